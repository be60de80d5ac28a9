"""Wire compatibility with DingTalk's custom robot, proven with a real client.

DingtalkChatbot (PyPI, pinned in requirements.txt) is used unchanged: only
the webhook address it is given points at Tram instead of oapi.dingtalk.com.
It sends every message type, with and without signing; the test then reads
the group's history through Tram's API and checks what arrived and how it
renders, and that refusals come back with DingTalk's codes.

Run by run.sh (which builds the server and the virtualenv); TRAM_BIN is the
server binary. Exits non-zero on the first failed check.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests
from dingtalkchatbot.chatbot import ActionCard, CardItem, DingtalkChatbot

CHECKS = 0


def check(condition, what, detail=""):
    global CHECKS
    CHECKS += 1
    if not condition:
        print(f"FAIL: {what}\n{detail}", file=sys.stderr)
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tram:
    """A fresh server and the logged-in owner of its first organisation."""

    def __init__(self, binary):
        self.data = tempfile.mkdtemp(prefix="tram-dingtalk-")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        # Everything the server logs, to check that no credential is in it.
        env = dict(os.environ, TRAM_LOG="debug")
        self.log_path = os.path.join(self.data, "server.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", self.data],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while True:
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.time() > deadline or self.process.poll() is not None:
                self.stop()
                sys.exit("the server did not start")
            time.sleep(0.2)
        self.session = requests.Session()
        self.session.get(self.base + "/api/v1/setup")
        owner = {"org_name": "港鐵貿易有限公司", "display_name": "陳大文",
                 "email": "owner@example.com", "password": "correct horse battery"}
        res = self.api("POST", "/api/v1/setup", owner)
        check(res.status_code == 200, "first-run setup", res.text)

    def api(self, method, path, body=None):
        headers = {"X-CSRF-Token": self.session.cookies.get("tram_csrf", "")}
        return self.session.request(method, self.base + path, json=body, headers=headers)

    def json(self, method, path, body=None):
        res = self.api(method, path, body)
        check(res.ok, f"{method} {path}", res.text)
        return res.json()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.data, ignore_errors=True)


def send_every_type(bot):
    """Every message type DingtalkChatbot sends; each answer must be ok."""
    answers = [
        bot.send_text(msg="訂單 SO-1001 已出貨", at_mobiles=["91234567"]),
        bot.send_text(msg="全體注意：系統維護", is_at_all=True),
        bot.send_image(pic_url="https://erp.example.com/chart.png"),
        bot.send_link(title="訂單變更", text="SO-1002 數量由 10 改為 12",
                      message_url="https://erp.example.com/so/1002", pic_url="https://erp.example.com/so.png"),
        bot.send_markdown(title="昨日現金流",
                          text="#### 昨日現金流報表\n> 淨流入 **HK$1,250,000**\n\n![圖表](https://erp.example.com/cash.png)\n\n[詳情](https://erp.example.com/cash)"),
        bot.send_action_card(ActionCard(title="差旅申請", text="### 陳大文 申請出差\n請審批",
                                        btns=[CardItem(title="查看詳情", url="https://erp.example.com/trip/7")])),
        bot.send_action_card(ActionCard(title="採購單", text="PO-88 待處理", btn_orientation=1,
                                        btns=[CardItem(title="同意", url="https://erp.example.com/po/88/yes"),
                                              CardItem(title="拒絕", url="https://erp.example.com/po/88/no")])),
        bot.send_feed_card([CardItem(title="今日匯率", url="https://erp.example.com/fx", pic_url="https://erp.example.com/fx.png"),
                            CardItem(title="應收賬款", url="https://erp.example.com/ar", pic_url="https://erp.example.com/ar.png")]),
    ]
    for answer in answers:
        check(answer == {"errcode": 0, "errmsg": "ok"}, "every message type is accepted", answers)
    return len(answers)


def check_history(messages, robot_name):
    mine = [m for m in messages if m["sender_name"] == robot_name]
    check(len(mine) == 8, f"{robot_name}: eight messages arrived", json.dumps(mine, ensure_ascii=False, indent=1))
    text, at_all, image, link, markdown, single, multi, feed = mine
    check(all(m["robot_id"] and m["sender_id"] is None for m in mine), "sent as the robot")
    check(text["kind"] == "text" and text["body"].startswith("訂單 SO-1001 已出貨"), "text", text)
    check(at_all["mention_all"] is True, "isAtAll becomes @all", at_all)
    check('<img src="https://erp.example.com/chart.png"' in image["html"], "image shows its picture", image)
    check(link["kind"] == "card" and link["card"]["type"] == "link", "link is a link card", link)
    # The client wraps every address in dingtalk://dingtalkclient/page/link?url=…
    check(link["card"]["url"] == "https://erp.example.com/so/1002", "link address unwrapped", link)
    check(link["card"]["picture"] == "https://erp.example.com/so.png", "link picture", link)
    check(markdown["kind"] == "markdown" and "<h4>昨日現金流報表</h4>" in markdown["html"], "markdown rendered", markdown)
    check('href="https://erp.example.com/cash"' in markdown["html"], "markdown link unwrapped", markdown)
    check('<img src="https://erp.example.com/cash.png"' in markdown["html"], "markdown picture", markdown)
    check(single["card"]["type"] == "action" and len(single["card"]["buttons"]) == 1, "single-button actionCard", single)
    check(single["card"]["buttons"][0] == {"title": "查看詳情", "url": "https://erp.example.com/trip/7"}, "single button", single)
    check(multi["card"]["horizontal"] is True and len(multi["card"]["buttons"]) == 2, "multi-button actionCard", multi)
    check('href="https://erp.example.com/po/88/no"' in multi["html"], "buttons link out", multi)
    items = feed["card"]["items"]
    check(feed["card"]["type"] == "feed" and [i["url"] for i in items] == ["https://erp.example.com/fx", "https://erp.example.com/ar"],
          "feedCard entries", feed)
    check(all(i["picture"].startswith("https://erp.example.com/") for i in items), "feedCard pictures", feed)
    for m in mine:
        check("<script" not in m["html"] and "dingtalk://" not in m["html"], "nothing unsafe rendered", m)


def main():
    tram = Tram(os.environ["TRAM_BIN"])
    try:
        group = tram.json("POST", "/api/v1/conversations", {"name": "資金管理群組", "member_ids": []})["conversation_id"]
        robots = f"/api/v1/conversations/{group}/robots"
        plain = tram.json("POST", robots, {"name": "ERP 機器人", "ip_allowlist": ["127.0.0.0/8"]})
        signed = tram.json("POST", robots, {"name": "財務機器人", "signing": True})
        keyword = tram.json("POST", robots, {"name": "報表機器人", "keywords": ["報表"]})
        check(signed["secret"].startswith("SEC"), "the secret looks like DingTalk's", signed)
        check(plain["webhook_url"].startswith(tram.base + "/robot/send?access_token="), "webhook address", plain)

        # Unchanged client, Tram's address: without signing, then signed.
        sent = send_every_type(DingtalkChatbot(plain["webhook_url"]))
        sent += send_every_type(DingtalkChatbot(signed["webhook_url"], secret=signed["secret"]))

        # Refusals come back as DingTalk's answers, which the client returns.
        wrong = DingtalkChatbot(signed["webhook_url"], secret="SEC" + "0" * 64).send_text(msg="forged")
        check(wrong == {"errcode": 310000, "errmsg": "sign not match"}, "a wrong secret", wrong)
        unsigned = DingtalkChatbot(signed["webhook_url"]).send_text(msg="unsigned")
        check(unsigned["errcode"] == 310000, "a signing robot refuses unsigned calls", unsigned)
        missing = DingtalkChatbot(keyword["webhook_url"]).send_text(msg="昨日現金流")
        check(missing == {"errcode": 310000, "errmsg": "keywords not in content"}, "keyword missing", missing)
        found = DingtalkChatbot(keyword["webhook_url"]).send_markdown(title="昨日報表", text="淨流入 HK$1,250,000")
        check(found == {"errcode": 0, "errmsg": "ok"}, "keyword in the markdown title", found)
        gone = DingtalkChatbot(plain["webhook_url"].replace("access_token=", "access_token=0")).send_text(msg="x")
        check(gone == {"errcode": 300005, "errmsg": "token is not exist"}, "unknown token", gone)
        sent += 1

        history = tram.json("GET", f"/api/v1/conversations/{group}/messages?limit=100")
        check(len(history) == sent, f"{sent} messages in the group", len(history))
        check_history(history, "ERP 機器人")
        check_history(history, "財務機器人")

        with open(tram.log_path, encoding="utf-8", errors="replace") as log:
            logged = log.read()
        check("/robot/send" in logged, "the server log covers the calls", logged[-2000:])
        for robot in (plain, signed, keyword):
            token = robot["webhook_url"].split("access_token=")[1]
            check(token not in logged, "no access token in the server log")
        check(signed["secret"] not in logged, "no secret in the server log")

        calls = tram.json("GET", f"/api/v1/conversations/{group}/robot-calls?limit=500")
        check(len(calls) == sent + 3, "every call to the group's robots is logged", len(calls))
        check(sorted({c["errcode"] for c in calls}) == [0, 310000], "logged with their codes", calls)
        print(f"dingtalk compat: DingtalkChatbot 1.5.7 — {sent} messages, {CHECKS} checks passed")
    finally:
        tram.stop()


if __name__ == "__main__":
    main()

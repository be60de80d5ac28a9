// Attachment fields on the approval form: each chosen file is uploaded at
// once (POST /api/v1/approvals/files, the file as the body), and its id is
// kept in a hidden input that the form posts with the field's name. A file
// is the uploader's only until the form is submitted; one never submitted
// is removed by the server after a day. Removing a file here only drops it
// from the form.
(function () {
  "use strict";

  function csrf(form) {
    var input = form.querySelector("input[name=_csrf]");
    return input ? input.value : "";
  }

  function chip(field, id, name) {
    var li = document.createElement("li");
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = field;
    hidden.value = id;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary small";
    remove.setAttribute("data-remove-file", "");
    remove.textContent = "×";
    li.appendChild(hidden);
    li.appendChild(document.createTextNode(name + " "));
    li.appendChild(remove);
    return li;
  }

  function upload(box, file) {
    var field = box.getAttribute("data-attachment");
    var status = box.querySelector("[data-upload-status]");
    var form = box.closest("form");
    var submit = form.querySelector("[type=submit]");
    status.textContent = box.getAttribute("data-uploading") || "…";
    if (submit) submit.disabled = true;
    return fetch("/api/v1/approvals/files?name=" + encodeURIComponent(file.name), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(form), "Content-Type": file.type || "application/octet-stream" },
      body: file
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
        box.querySelector("[data-files]").appendChild(chip(field, body.id, body.file_name));
        status.textContent = "";
      });
    }).catch(function (err) {
      status.textContent = err.message;
      status.className = "field-error";
    }).then(function () {
      if (submit) submit.disabled = false;
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target.closest("input[type=file][data-upload]");
    if (!input) return;
    var box = input.closest("[data-attachment]");
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";
    files.reduce(function (done, file) {
      return done.then(function () { return upload(box, file); });
    }, Promise.resolve());
  });

  document.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-remove-file]");
    if (remove) remove.closest("li").remove();
  });
})();

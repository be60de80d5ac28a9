-- The chat messages carrying a task's card (its notice and reminder), so
-- closing the cards of a decided task finds them by the task instead of
-- searching every notice its approver ever got.
CREATE TABLE approval_task_cards (
    task_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (task_id, message_id)
);

-- Cards posted before this table: their notice keys name the task
-- ('approval.notice:task:<task id>:<due>' and
-- 'approval.notice:remind:approval.reminder:<task id>'; ids are 32
-- characters).
INSERT INTO approval_task_cards (task_id, message_id)
SELECT substr(client_id, 22, 32), id FROM messages
WHERE client_id LIKE 'approval.notice:task:%' AND card IS NOT NULL;
INSERT INTO approval_task_cards (task_id, message_id)
SELECT substr(client_id, 42, 32), id FROM messages
WHERE client_id LIKE 'approval.notice:remind:approval.reminder:%' AND card IS NOT NULL;

-- Which click recorded an answer or a rating, so a click job that runs twice (retry, crash,
-- concurrent reveal) recognises its own answer instead of calling it a duplicate.
ALTER TABLE survey_participants
    ADD COLUMN answer_click_id  TEXT,
    ADD COLUMN quality_click_id TEXT;

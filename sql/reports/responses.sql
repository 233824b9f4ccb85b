-- Survey responses dated from $from_ts (inclusive) to $to_ts (exclusive).
SELECT response_id, account_id, survey_type, score, responded_at, comment, _loaded_at
FROM staging.responses
WHERE responded_at >= $from_ts AND responded_at < $to_ts
ORDER BY account_id, responded_at DESC, response_id

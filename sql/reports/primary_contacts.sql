-- Primary contacts, to address the report ("Prepared for ...").
SELECT account_id, name, role, _loaded_at
FROM staging.contacts
WHERE is_primary
ORDER BY account_id, contact_id

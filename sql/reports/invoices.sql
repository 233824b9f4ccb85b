-- Invoices that count (not draft or void) issued by $period_end and either issued or
-- paid from $window_start on or still unpaid, converted into the reporting currency at
-- the issue date's rate (the same rule as invoiced_net in docs/metrics.md).
SELECT
    i.invoice_id,
    i.account_id,
    i.number,
    i.issued_on,
    i.due_on,
    i.status,
    i.paid_on,
    i.currency,
    i.subtotal AS subtotal_original,
    i.tax AS tax_original,
    i.total AS total_original,
    CAST(CASE WHEN i.currency = $reporting_currency THEN i.subtotal ELSE i.subtotal * f.rate END AS DECIMAL(18, 4)) AS subtotal,
    CAST(CASE WHEN i.currency = $reporting_currency THEN i.tax ELSE i.tax * f.rate END AS DECIMAL(18, 4)) AS tax,
    CAST(CASE WHEN i.currency = $reporting_currency THEN i.total ELSE i.total * f.rate END AS DECIMAL(18, 4)) AS total,
    i._loaded_at
FROM staging.invoices AS i
ASOF LEFT JOIN staging.fx_rates AS f
    ON i.currency = f.currency AND i.issued_on >= f.date
WHERE i.status NOT IN ('draft', 'void')
  AND i.issued_on <= $period_end
  AND (i.issued_on >= $window_start OR i.paid_on IS NULL OR i.paid_on >= $window_start)
ORDER BY i.account_id, i.issued_on, i.invoice_id

-- The monthly KPIs a book shows, for the months from $from_month to $to_month.
SELECT account_id, month, tier, segment, account_manager_id, mrr, mrr_previous, is_customer,
       overdue_amount, nps_12m, csat_3m, touches_3m, days_since_last_touch, open_high_priority_tickets,
       days_to_renewal
FROM marts.account_monthly
WHERE month BETWEEN $from_month AND $to_month
ORDER BY account_id, month

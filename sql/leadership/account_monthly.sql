-- The per-account KPIs the pack lists and aggregates, for $from_month to $to_month.
SELECT
    account_id,
    month,
    tier,
    segment,
    account_manager_id,
    mrr,
    mrr_previous,
    mrr_new,
    mrr_expansion,
    mrr_contraction,
    mrr_churn,
    mrr_reactivation,
    is_customer,
    overdue_amount,
    touches_3m,
    days_since_last_touch,
    days_to_renewal
FROM marts.account_monthly
WHERE month BETWEEN $from_month AND $to_month
ORDER BY account_id, month

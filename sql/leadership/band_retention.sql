-- The band retention rates (one row per band) known at the month $month.
SELECT *
FROM marts.band_retention
WHERE month = $month
ORDER BY band

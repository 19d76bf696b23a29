-- After officials answer a derived month's warnings: the rollups' median response time of
-- that month, without deriving the month again (the rest of the month is unchanged).
-- Parameters: month.
UPDATE rollup r SET response_minutes_median = c.response
FROM (
    SELECT left(m.village_code, n.len) AS code,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM w.acknowledged_at - w.raised_at) / 60) AS response
    FROM warning_month m
    JOIN warning w USING (warning_id)
    CROSS JOIN (VALUES (2), (4), (6), (9), (12)) AS n (len)
    WHERE m.month = %(month)s::date
    GROUP BY 1
) c
WHERE r.month = %(month)s::date AND r.code = c.code;

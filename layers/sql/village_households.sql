-- The households of one village as its official sees them: head's name, address, status,
-- poverty causes, and the open warning (level, reasons) if any.
SELECT h.household_id, p.name AS head_name, h.address, h.status, h.size, h.phone_masked,
       h.poverty_cause, h.poverty_cause_secondary,
       w.level AS warning_level, w.status AS warning_status, w.reasons_zh, w.reasons_en,
       ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat
FROM household h
LEFT JOIN person p ON p.month = h.month AND p.person_token = h.head_token
LEFT JOIN warning w ON w.household_id = h.household_id
     AND w.status IN ('raised', 'acknowledged', 'verified')
WHERE h.month = %(month)s AND h.village_code = %(village)s AND h.village_code LIKE %(scope_like)s
ORDER BY CASE w.level WHEN 'red' THEN 0 WHEN 'orange' THEN 1 WHEN 'yellow' THEN 2 ELSE 3 END,
         h.household_id

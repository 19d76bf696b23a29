-- Derived tables become partitioned by month, like the facts. `onemap derive` builds a month
-- in fresh tables (on two connections at once; indexes built once, after the rows) and swaps
-- them in with one short transaction, so readers see the old month or the new one, and a
-- failed run leaves the published month as it was. Rows already derived are kept.
DO $migrate$
DECLARE
    tbl text;
    old text;
    m date;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['household_features', 'member_features', 'benefit',
                               'warning_month', 'supervision_official',
                               'supervision_finding', 'rollup'] LOOP
        old := tbl || '_unpartitioned';
        EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                       ' INCLUDING INDEXES) PARTITION BY LIST (month)', tbl, old);
        FOR m IN EXECUTE format('SELECT DISTINCT month FROM %I ORDER BY 1', old) LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES IN (%L)',
                           tbl || '_' || to_char(m, 'YYYYMM'), tbl, m);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', tbl, old);
        EXECUTE format('DROP TABLE %I', old);
    END LOOP;
END
$migrate$;

-- Foreign keys are not copied by LIKE. On a partitioned table they are checked once, in bulk,
-- when a month's partition is attached.
ALTER TABLE benefit ADD FOREIGN KEY (policy_code) REFERENCES policy;
ALTER TABLE warning_month ADD FOREIGN KEY (warning_id) REFERENCES warning ON DELETE CASCADE;
ALTER TABLE rollup ADD FOREIGN KEY (level) REFERENCES admin_level;

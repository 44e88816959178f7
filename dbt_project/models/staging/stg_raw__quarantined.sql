-- Raw rows that their staging model leaves out because a payload field cannot be cast
-- (macros/safe_casts.sql); the pipeline's check of the same rows reads the new ones only
-- (tests/generic/no_rows_left_out_by_staging.sql).
{{ rows_left_out_by_staging() }}

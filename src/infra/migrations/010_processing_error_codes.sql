-- issue 9 item 3: every processing failure carries a machine code (src/domain/processing-failures.ts) beside its English message
ALTER TABLE assets ADD COLUMN error_code text;

ALTER TABLE cable_packages ADD COLUMN error_code text;

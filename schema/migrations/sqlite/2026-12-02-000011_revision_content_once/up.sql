-- The current revision's content is the report's own: stored once, in
-- reports.content; its revision row keeps an empty content until a newer
-- revision supersedes it (then the content is copied into it).
UPDATE report_revisions SET content = ''
WHERE EXISTS (
    SELECT 1 FROM reports r
    WHERE r.id = report_revisions.report_id AND r.revision = report_revisions.revision
);

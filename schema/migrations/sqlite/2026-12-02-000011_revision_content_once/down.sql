UPDATE report_revisions SET content = (
    SELECT r.content FROM reports r
    WHERE r.id = report_revisions.report_id AND r.revision = report_revisions.revision
)
WHERE content = '';

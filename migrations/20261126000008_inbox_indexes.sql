-- The inbox's default view is an operator's open cases, earliest deadline first,
-- one page at a time. `cases_inbox` (tenant, office, due date) cannot give that order
-- for an operator of several offices, nor for cases reached through an open task of
-- theirs, and it holds the closed cases too: the planner read every case of the ente
-- and sorted them (p95 about 1 s on the 100,000-case tenant, docs/BENCHMARKS.md).
-- Walking the open cases in deadline order and stopping at the page needs an index
-- in that order, on open cases only — the query states the same predicate, so the
-- planner can use it.
create index cases_open_by_deadline on cases (tenant_id, due_date, submitted_at, id)
    where status not in ('draft', 'accepted', 'rejected', 'closed');

-- "Assigned to me": the same order among one person's open cases; `cases_by_assignee`
-- holds all their closed cases too, each read from the table to be dropped.
create index cases_open_by_assignee on cases (tenant_id, assignee_id, due_date, submitted_at, id)
    where assignee_id is not null and status not in ('draft', 'accepted', 'rejected', 'closed');

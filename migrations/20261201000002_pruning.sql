-- Pruning (docs/JOBS.md): the hourly `prune` job of each ente deletes, in its
-- TenantTx, what has expired. Sign-in flows, sessions, OTP codes and SAML
-- replay entries it deletes with the grants the runtime already has. Finished
-- job records are platform-level (the `underway` schema) and the runtime has
-- no DELETE there: this function, owned by the owner role, deletes exactly the
-- finished jobs of the ente in scope (`app.tenant_id`) past their retention,
-- with their attempts (cascade) and their idempotency keys, and nothing else.
--
-- Retention: succeeded jobs 7 days, failed or cancelled ones 30 days (their
-- errors are the only trace of what went wrong). Pending and running jobs are
-- never touched, however old. A key is remembered as long as its job is: the
-- same key enqueued after that would run again (keys name one event: a case's
-- status at an instant, an outbox row, an hour).
--
-- plpgsql: the `underway` schema is created after these migrations, and a
-- plpgsql body is resolved when it first runs.
create function prune_finished_jobs() returns bigint
    language plpgsql volatile security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    tenant uuid := public.app_current_tenant();
    pruned bigint;
begin
    if tenant is null then
        raise exception 'prune_finished_jobs: no ente in scope (app.tenant_id)';
    end if;
    with gone as (
        delete from underway.task t
        using public.job_keys k
        where k.tenant_id = tenant
          and t.task_queue_name = 'sportello'
          and t.id = k.task_id
          and t.input->>'tenant' = tenant::text
          and ((t.state = 'succeeded' and t.completed_at < now() - interval '7 days')
            or (t.state in ('failed', 'cancelled')
                and coalesce(t.completed_at, t.updated_at) < now() - interval '30 days'))
        returning t.id
    )
    delete from public.job_keys k using gone where k.tenant_id = tenant and k.task_id = gone.id;
    get diagnostics pruned = row_count;
    return pruned;
end $$;

revoke all on function prune_finished_jobs() from public;
grant execute on function prune_finished_jobs() to sportello_runtime;

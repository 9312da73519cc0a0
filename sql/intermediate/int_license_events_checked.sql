-- int_license_events_checked: one row per raw license_events row with its final fate.
-- Contract §2.2 (sequence rules) and §4, applied to the rows int_license_events_deduped
-- accepted. Per license_id, events are ordered by (occurred_at, line_number): ties in
-- time go by file order, for the issue as for the revoke.
--   - an event of an account that is not billed by license-days is rejected (else it
--     would be accepted and never billed); such an `issued` counts as a rejected issue;
--   - the first accepted `issued` is the license's issue, unless a rejected `issued`
--     (for any reason, including the reasons of int_license_events_deduped) comes
--     before it: after a rejected issue every later event of the license is rejected.
--     "Later" than a rejected issue whose timestamp does not parse means later in the
--     file (a higher line number);
--   - an event before the issue, or of a license never issued, is rejected;
--   - a second `issued` is rejected (and, being a rejected issue, rejects what follows);
--   - an event naming another account than the issue did is rejected;
--   - the first `revoked` left standing is the revoke; any event after it (strictly
--     later in the order above, a second `revoked` included) is rejected.
-- Duplicates (row_status 'duplicate') and rows rejected on their own terms keep their fate.
with deduped as (
    select * from int_license_events_deduped
),

accounts as (
    select * from int_accounts
),

screened as (
    select
        deduped.*,
        case
            when deduped.row_status = 'accepted' and accounts.billing_model <> 'license_day'
                then 'account ''' || deduped.account_id || ''' is not billed by license-days ('
                    || accounts.billing_model || ')'
        end as model_reason
    from deduped
    left join accounts on accounts.account_id = deduped.account_id
),

sequenced as (
    select line_number, license_id, account_id, event, occurred_at
    from screened
    where row_status = 'accepted' and model_reason is null
),

rejected_issues as (
    select license_id, occurred_at, line_number
    from screened
    where event = 'issued'
        and license_id is not null
        and (row_status = 'rejected' or model_reason is not null)
),

accepted_issues as (
    select
        *,
        row_number() over (partition by license_id order by occurred_at, line_number)
            as issue_rank
    from sequenced
    where event = 'issued'
),

-- the first rejected issue with a timestamp, and a second accepted issue: both make every
-- later event of the license a bad row; the earlier of the two is the one that counts
dated_poison as (
    select license_id, occurred_at, line_number
    from (
        select license_id, occurred_at, line_number from rejected_issues
        where occurred_at is not null
        union all
        select license_id, occurred_at, line_number from accepted_issues
        where issue_rank = 2
    )
    qualify row_number() over (partition by license_id order by occurred_at, line_number) = 1
),

undated_poison as (
    select license_id, min(line_number) as line_number
    from rejected_issues
    where occurred_at is null
    group by license_id
),

licenses as (
    select
        first_issue.license_id,
        first_issue.account_id as issue_account_id,
        first_issue.occurred_at as issued_at,
        first_issue.line_number as issue_line_number,
        dated_poison.occurred_at as poison_at,
        dated_poison.line_number as poison_line_number,
        undated_poison.line_number as undated_poison_line_number,
        -- the issue stands unless a rejected issue comes before it
        not coalesce(
            dated_poison.occurred_at < first_issue.occurred_at
            or (dated_poison.occurred_at = first_issue.occurred_at
                and dated_poison.line_number < first_issue.line_number),
            false
        )
        and coalesce(undated_poison.line_number > first_issue.line_number, true) as issue_stands
    from accepted_issues as first_issue
    left join dated_poison on dated_poison.license_id = first_issue.license_id
    left join undated_poison on undated_poison.license_id = first_issue.license_id
    where first_issue.issue_rank = 1
),

-- licenses with no accepted issue still have their rejected issues (to explain why)
poison_only as (
    select
        coalesce(dated_poison.license_id, undated_poison.license_id) as license_id,
        dated_poison.occurred_at as poison_at,
        dated_poison.line_number as poison_line_number,
        undated_poison.line_number as undated_poison_line_number
    from dated_poison
    full join undated_poison on undated_poison.license_id = dated_poison.license_id
),

flagged as (
    select
        sequenced.line_number,
        sequenced.license_id,
        sequenced.account_id,
        sequenced.event,
        sequenced.occurred_at,
        coalesce(licenses.issue_stands, false) as has_issue,
        licenses.issue_account_id,
        licenses.issued_at,
        sequenced.line_number = licenses.issue_line_number and licenses.issue_stands
            as is_issue,
        coalesce(
            sequenced.occurred_at < licenses.issued_at
            or (sequenced.occurred_at = licenses.issued_at
                and sequenced.line_number < licenses.issue_line_number),
            false
        ) as is_before_issue,
        case
            when sequenced.occurred_at > poison_only.poison_at
                or (sequenced.occurred_at = poison_only.poison_at
                    and sequenced.line_number > poison_only.poison_line_number)
                then poison_only.poison_line_number
            when sequenced.line_number > poison_only.undated_poison_line_number
                then poison_only.undated_poison_line_number
        end as after_rejected_issue_line
    from sequenced
    left join licenses on licenses.license_id = sequenced.license_id
    left join poison_only on poison_only.license_id = sequenced.license_id
),

revokes as (
    select license_id, occurred_at as revoked_at, line_number as revoke_line_number
    from flagged
    where event = 'revoked'
        and has_issue
        and not is_before_issue
        and after_rejected_issue_line is null
        and account_id = issue_account_id
    qualify row_number() over (partition by license_id order by occurred_at, line_number) = 1
),

fates as (
    select
        flagged.line_number,
        case
            when flagged.is_issue then null
            when flagged.occurred_at > revokes.revoked_at
                or (flagged.occurred_at = revokes.revoked_at
                    and flagged.line_number > revokes.revoke_line_number)
                then 'license ' || flagged.license_id || ' was already revoked at '
                    || strftime(revokes.revoked_at, '%Y-%m-%d %H:%M UTC')
            when flagged.after_rejected_issue_line is not null
                then 'license ' || flagged.license_id || ': its issue on line '
                    || flagged.after_rejected_issue_line
                    || ' was rejected, so its later events are rejected too'
            when not flagged.has_issue
                then 'license ' || flagged.license_id || ' was never issued'
            when flagged.is_before_issue
                then 'event for license ' || flagged.license_id || ' before it was issued at '
                    || strftime(flagged.issued_at, '%Y-%m-%d %H:%M UTC')
            when flagged.event = 'issued'
                then 'license ' || flagged.license_id || ' was already issued at '
                    || strftime(flagged.issued_at, '%Y-%m-%d %H:%M UTC')
            when flagged.account_id <> flagged.issue_account_id
                then 'license ' || flagged.license_id || ' was issued to account '''
                    || flagged.issue_account_id || ''', not ''' || flagged.account_id || ''''
        end as sequence_reason
    from flagged
    left join revokes on revokes.license_id = flagged.license_id
),

final as (
    select
        screened.* exclude (model_reason)
        replace (
            case
                when screened.model_reason is not null or fates.sequence_reason is not null
                    then 'rejected'
                else screened.row_status
            end as row_status,
            coalesce(screened.reject_reason, screened.model_reason, fates.sequence_reason)
                as reject_reason
        )
    from screened
    left join fates on fates.line_number = screened.line_number
)

select * from final

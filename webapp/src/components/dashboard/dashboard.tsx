import React, {useCallback, useState} from 'react';

import type {ApiError, DrClient} from '../../api/client';
import type {BackupList, FailoverRun, SSOFallbackRequest, SSOOutcome, SSOReport} from '../../api/types';

import AuditSection from './audit_section';
import BackupsSection from './backups_section';
import {describeError, toApiError, type Notice} from './common';
import ConfirmDialog from './confirm_dialog';
import FailoverPanel, {currentStep, type FailoverAction} from './failover_panel';
import {formatDuration, formatTime} from './format';
import {pageLagHistory, type LagHistory} from './lag_history';
import SSOSection, {DELIVERY_LABELS} from './sso_section';
import StatusSection from './status_section';
import {DASHBOARD_CSS} from './styles';
import {useDashboardPolling} from './use_dashboard_polling';

export const POLL_FAST_MS = 2_000;
export const POLL_SLOW_MS = 30_000;
export const AUDIT_LIMIT = 10;

export interface DashboardProps {
    client: DrClient;
    lagHistory?: LagHistory;

    /** How often to refresh while a backup or verification runs, and otherwise. */
    pollFastMs?: number;
    pollSlowMs?: number;
    auditLimit?: number;
}

type Section = 'backups' | 'sso' | 'failover';

interface Confirmation {
    title: string;
    body: React.ReactNode;
    confirmLabel: string;
    danger: boolean;
    section: Section;
    action: () => Promise<Notice | undefined>;
    startsJob?: boolean;
}

function reportNotice(what: string, outcome: SSOOutcome): Notice {
    if (outcome.started) {
        const {job, users} = outcome.started;
        const count = users >= 0 ? `, ${users} user(s)` : '';
        return {kind: 'info', text: `${what} runs in the background (job ${job.id}${count}); the bot posts the result in the ops channel. /dr sso cancel stops it.`};
    }
    return runNotice(what, outcome.report);
}

function runNotice(what: string, rep: SSOReport): Notice {
    const count = (o: string): number => rep.results.filter((r) => r.outcome === o).length;
    const failed = count('failed');
    const lines = rep.results.filter((r) => r.outcome === 'failed' || r.outcome === 'skipped').map((r) => `@${r.username}: ${r.outcome}, ${r.detail}`);
    const text = `${what}: ${count('done')} done, ${count('already')} already, ${count('skipped')} skipped, ${failed} failed (${formatDuration(rep.duration / 1e6)}).`;
    return {kind: failed > 0 ? 'error' : 'info', text: [text, ...lines].join(' ')};
}

// The settings' and the ops channel's problems, as /dr version lists them: a public ops channel,
// or who besides admins reads it, must not go unnoticed.
const SettingsProblems = ({problems}: {problems: string[]}): React.JSX.Element | null => (problems.length === 0 ? null : (
    <div
        role='alert'
        className='DrAlert'
        data-testid='dr-settings-problems'
    >
        <strong>Settings need attention (System Console &gt; Plugins &gt; Disaster Recovery):</strong>
        <ul>
            {problems.map((p) => <li key={p}>{p}</li>)}
        </ul>
    </div>
));

const Refusal = ({error}: {error: ApiError}): React.JSX.Element => (
    <div
        role='alert'
        className='DrAlert'
        data-testid='dr-refusal'
    >
        <strong>
            {error.status === 401 ? 'You are not logged in to Mattermost.' : 'The Disaster Recovery dashboard is for system admins only.'}
        </strong>
        <p>{`The server refused this session: ${describeError(error)}`}</p>
    </div>
);

/**
 * The System Console dashboard: overall DR status, backups with their jobs and history, users
 * in SSO fallback and the latest audit entries, refreshed every 30 s, and every 2 s while a job
 * runs. It talks only to the plugin's REST API, as the logged-in admin.
 */
const Dashboard = ({client, lagHistory = pageLagHistory, pollFastMs = POLL_FAST_MS, pollSlowMs = POLL_SLOW_MS, auditLimit = AUDIT_LIMIT}: DashboardProps): React.JSX.Element => {
    const [busy, setBusy] = useState(false);
    const [notices, setNotices] = useState<Partial<Record<Section, Notice>>>({});
    const [confirm, setConfirm] = useState<Confirmation>();

    const {snap, setSnap, refreshNow} = useDashboardPolling({client, lagHistory, pollFastMs, pollSlowMs, auditLimit});

    const run = useCallback(async (section: Section, action: () => Promise<Notice | undefined>, startsJob = false): Promise<void> => {
        setBusy(true);
        setNotices((n) => ({...n, [section]: undefined}));
        let refused = false;
        let started = false;
        try {
            const notice = await action();
            started = startsJob;
            setNotices((n) => ({...n, [section]: notice}));
        } catch (err) {
            const e = toApiError(err);
            refused = e.refused;
            if (refused) {
                setSnap((s) => ({...s, refusal: e}));
            }
            setNotices((n) => ({...n, [section]: {kind: 'error', text: describeError(e)}}));
        } finally {
            setBusy(false);
            if (!refused) {
                refreshNow.current(false, started);
            }
        }
    }, [setSnap, refreshNow]);

    const ask = (c: Confirmation): void => setConfirm(c);
    const onCancelDialog = useCallback(() => setConfirm(undefined), []);

    const setJob = (field: 'running' | 'verifying', job: BackupList['running']): void => {
        // Show the job the server just started at once; the next poll follows its progress.
        setSnap((s) => (s.backups.data ? {...s, backups: {...s.backups, data: {...s.backups.data, [field]: job}}} : s));
    };

    const onBackup = (): void => void run('backups', async () => {
        setJob('running', await client.startBackup());
        return undefined;
    }, true);

    const onCancel = (): void => void run('backups', async () => {
        const {cancelled} = await client.cancelBackup();
        return {
            kind: 'info',
            text: cancelled ? `Cancelling backup job ${cancelled.id}: nothing of it is kept; the bot confirms when it has stopped.` : 'No backup was running on this node.',
        };
    });

    const verify = (id: string, drill: boolean) => async (): Promise<Notice> => {
        const job = await client.verifyBackup(id, drill);
        setJob('verifying', job);
        return {kind: 'info', text: `${drill ? 'Restore drill' : 'Verification'} of backup ${id} started (job ${job.id}); the result appears in the Verification column.`};
    };

    const onVerify = (id: string, drill: boolean): void => {
        if (!drill) {
            void run('backups', verify(id, false), true);
            return;
        }
        ask({
            title: `Run a restore drill of backup ${id}?`,
            body: <p>A drill restores the backup&apos;s database dump into a scratch database, compares every table&apos;s row count with the backup, then drops the scratch database. It reads the whole dump and loads the database server, so it takes longer than a check.</p>,
            confirmLabel: 'Start the drill',
            danger: false,
            section: 'backups',
            action: verify(id, true),
            startsJob: true,
        });
    };

    const onPin = (id: string, pinned: boolean): void => void run('backups', async () => {
        await client.setPinned(id, pinned);
        return {kind: 'info', text: pinned ? `Backup ${id} is pinned: retention keeps it until you unpin it.` : `Backup ${id} is unpinned: retention decides again.`};
    });

    const onDelete = (id: string): void => {
        const data = snap.backups.data;
        const entry = [...(data?.backups ?? []), ...(data?.untrusted ?? [])].find((b) => b.id === id);
        const where = Object.keys(entry?.manifests ?? {}).sort().join(', ');
        ask({
            title: `Delete backup ${id}?`,
            body: <p>{`This deletes backup ${id} at every destination (${where || 'all'}), with the file contents only it refers to. It cannot be undone.`}</p>,
            confirmLabel: 'Delete the backup',
            danger: true,
            section: 'backups',
            action: async () => {
                await client.deleteBackup(id);
                return {kind: 'info', text: `Backup ${id} deleted.`};
            },
        });
    };

    const onRestore = (username: string): void => {
        const rec = snap.fallbacks.data?.find((r) => r.username === username);
        ask({
            title: `Restore @${username} to SSO?`,
            body: <p>{`@${username} goes back to signing in with ${rec?.auth_service ?? 'SSO'}. The temporary email/password sign-in stops working and the sessions made with it are signed out.`}</p>,
            confirmLabel: `Restore @${username}`,
            danger: false,
            section: 'sso',
            action: async () => reportNotice(`Restore of @${username}`, await client.restoreSSO({usernames: [username], service: '', all: false})),
        });
    };

    const onRestoreAll = (count: number): void => ask({
        title: `Restore all ${count} users to SSO?`,
        body: <p>Every user in SSO fallback goes back to their SSO sign-in. Only do this once the identity provider works again: until then they cannot sign in at all. Sessions made with the temporary sign-ins are signed out.</p>,
        confirmLabel: `Restore all ${count}`,
        danger: true,
        section: 'sso',
        action: async () => reportNotice('Restore of all users', await client.restoreSSO({usernames: [], service: '', all: true, confirm: true})),
    });

    // The same count and wording as `/dr sso fallback` asks before it switches users.
    const onStartFallback = (req: SSOFallbackRequest): void => {
        const names = req.usernames.map((u) => `@${u}`).join(', ');
        const delivery = req.delivery || 'the server\'s default';
        ask({
            title: `Switch ${req.usernames.length} user(s) to email/password?`,
            body: (
                <>
                    <p>{`${req.usernames.length} user(s) would be switched to email/password (delivery: ${delivery}): ${names}.`}</p>
                    <p>{`${DELIVERY_LABELS[req.delivery]}. ${req.expires ? `The fallback window is ${req.expires}` : 'The fallback window is the settings\' default'}; Restore puts them back on SSO. Their SSO sign-in stops working until then.`}</p>
                </>
            ),
            confirmLabel: `Switch ${req.usernames.length} user(s)`,
            danger: true,
            section: 'sso',
            action: async () => reportNotice(`Fallback of ${names}`, await client.startSSOFallback(req)),
        });
    };

    const failoverDialogs: Record<FailoverAction, (run: FailoverRun) => Pick<Confirmation, 'title' | 'body' | 'confirmLabel' | 'danger'>> = {
        confirm: (run) => {
            const step = currentStep(run);
            return {
                title: `Confirm "${step?.title ?? 'the waiting step'}"?`,
                body: <p>{`Confirm only once it is done: ${step?.next ?? ''} Runbook ${run.id} then goes on to its next step.`}</p>,
                confirmLabel: 'Confirm and go on',
                danger: false,
            };
        },
        resume: (run) => ({
            title: `Resume runbook ${run.id}?`,
            body: <p>{`The runbook goes on at "${currentStep(run)?.title ?? 'its end'}"; finished steps are not run again, and a step that already took effect is checked, not repeated.`}</p>,
            confirmLabel: 'Resume',
            danger: false,
        }),
        abort: (run) => ({
            title: `Abort runbook ${run.id}?`,
            body: <p>{'The runbook stops before its next step (a step that runs now finishes first). The bot then posts what was done and how to undo it. Steps already done are not undone.'}</p>,
            confirmLabel: 'Abort the runbook',
            danger: true,
        }),
    };

    const onFailoverAction = (action: FailoverAction, run: FailoverRun): void => ask({
        ...failoverDialogs[action](run),
        section: 'failover',
        action: async () => {
            // The answer is the runbook as the action left it; the next polls follow it on.
            const res = await client.failoverAction(action, {run: run.id, step: currentStep(run)?.name ?? ''});
            const step = currentStep(res.run)?.title;
            const text = {
                confirm: `Confirmed "${step ?? 'the waiting step'}"; runbook ${res.run.id} goes on.`,
                resume: `Runbook ${res.run.id} resumes at ${step ? `"${step}"` : 'its end'}; finished steps are not run again.`,
                abort: res.message ?? `Abort requested: runbook ${res.run.id} stops before its next step.`,
            }[action];
            return {kind: 'info', text};
        },
        startsJob: action !== 'abort',
    });

    const onConfirm = (): void => {
        if (confirm) {
            setConfirm(undefined);
            void run(confirm.section, confirm.action, confirm.startsJob);
        }
    };

    let state = 'ready';
    if (snap.refusal) {
        state = 'refused';
    } else if (!snap.loaded) {
        state = 'loading';
    }

    return (
        <div
            className='DrDashboard'
            data-testid='dr-dashboard'
            data-state={state}
        >
            <style>{DASHBOARD_CSS}</style>
            <h3>Disaster recovery dashboard</h3>
            {snap.refusal && <Refusal error={snap.refusal}/>}
            {state === 'loading' && (
                <p
                    aria-busy='true'
                    className='DrMuted'
                >
                    Loading the disaster recovery status…
                </p>
            )}
            {state === 'ready' && (
                <>
                    <div className='DrToolbar'>
                        <span
                            className='DrMuted'
                            data-testid='dr-updated'
                        >
                            {`Updated ${formatTime(snap.updatedAt, true)}. Refreshes every ${pollSlowMs / 1000} s, every ${pollFastMs / 1000} s while a backup or verification runs.`}
                        </span>
                        <button
                            type='button'
                            className='btn btn-tertiary btn-sm'
                            onClick={() => refreshNow.current(true, false)}
                        >
                            Refresh now
                        </button>
                    </div>
                    <SettingsProblems problems={snap.version.data?.problems ?? []}/>
                    <StatusSection
                        status={snap.status}
                        lag={snap.lag}
                        now={snap.updatedAt}
                        pollSeconds={pollSlowMs / 1000}
                    />
                    <FailoverPanel
                        failover={snap.failover}
                        notice={notices.failover}
                        busy={busy}
                        now={snap.updatedAt}
                        onAction={onFailoverAction}
                    />
                    <BackupsSection
                        backups={snap.backups}
                        notice={notices.backups}
                        busy={busy}
                        now={snap.updatedAt}
                        onBackup={onBackup}
                        onCancel={onCancel}
                        onVerify={onVerify}
                        onPin={onPin}
                        onDelete={onDelete}
                    />
                    <SSOSection
                        fallbacks={snap.fallbacks}
                        notice={notices.sso}
                        busy={busy}
                        now={snap.updatedAt}
                        onRestore={onRestore}
                        onRestoreAll={onRestoreAll}
                        onStartFallback={onStartFallback}
                    />
                    <AuditSection
                        audit={snap.audit}
                        exportJSONL={client.exportURL('jsonl')}
                        exportCSV={client.exportURL('csv')}
                    />
                </>
            )}
            {confirm && (
                <ConfirmDialog
                    title={confirm.title}
                    confirmLabel={confirm.confirmLabel}
                    danger={confirm.danger}
                    onConfirm={onConfirm}
                    onCancel={onCancelDialog}
                >
                    {confirm.body}
                </ConfirmDialog>
            )}
        </div>
    );
};

export default Dashboard;

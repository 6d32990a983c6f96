import React from 'react';

import type {FailoverRun, FailoverStatus, FailoverStep} from '../../api/types';

import {ErrorAlert, NoticeBox, ServerText, type Loaded, type Notice} from './common';
import {formatDuration, formatTime, toMillis} from './format';

export type FailoverAction = 'confirm' | 'resume' | 'abort';

export interface FailoverPanelProps {
    failover: Loaded<FailoverStatus>;
    notice?: Notice;
    busy: boolean;
    now: number;
    onAction: (action: FailoverAction, run: FailoverRun) => void;
}

const RUN_LABELS: Record<string, string> = {
    running: 'Running',
    waiting: 'Waits for you',
    failed: 'Failed',
    interrupted: 'Interrupted',
    aborted: 'Aborted',
    completed: 'Completed',
    'waiting-for-plugin': 'Waits for the plugin',
};

const STEP_LABELS: Record<string, string> = {
    pending: 'Pending',
    running: 'Running',
    done: 'Done',
    failed: 'Failed',
    waiting: 'Waits for you',
    deferred: 'Deferred to the failback',
    skipped: 'Skipped',
    manual: 'By hand',
    'waiting-for-plugin': 'Waits for the plugin',
};

// The verdict colours of the status section, reused: green done, amber waiting, red failed.
const STEP_CLASS: Record<string, string> = {
    done: 'healthy',
    waiting: 'degraded',
    'waiting-for-plugin': 'degraded',
    deferred: 'degraded',
    manual: 'degraded',
    failed: 'critical',
};

const terminal = (run: FailoverRun): boolean => run.state === 'aborted' || run.state === 'completed';

/** The step the runbook is at: the first one not finished (as Run.Current on the server). */
export function currentStep(run: FailoverRun): FailoverStep | undefined {
    const finished = ['done', 'deferred', 'skipped', 'manual', 'waiting-for-plugin'];
    return run.steps.find((s) => !finished.includes(s.state));
}

/**
 * The state as the admin should read it: a runbook journaled "running" that no node runs
 * was interrupted (the chat's /dr failover status says the same).
 */
export function runState(status: FailoverStatus): string {
    const run = status.run;
    if (!run) {
        return '';
    }
    return run.state === 'running' && !status.running ? 'interrupted' : run.state;
}

/** What to do next, in the chat's words (failover.StatusMarkdown). */
export function nextAction(status: FailoverStatus): string {
    const run = status.run;
    if (!run || terminal(run)) {
        return '';
    }
    const step = currentStep(run);
    const state = runState(status);
    if (run.abort_requested) {
        return `Abort requested by @${run.aborted_by ?? ''}: the runbook stops before its next step.`;
    }
    if (step?.state === 'failed') {
        return `${step.title} failed: ${step.error ?? ''} What to do: ${step.next ?? 'fix the cause, then Resume; or Abort.'}`;
    }
    if (step?.state === 'waiting') {
        return `${step.title} waits for you: ${step.next ?? ''} Then Confirm (you did it) or Resume (the runbook checks it itself).`;
    }
    if (state === 'interrupted') {
        return 'No node is running it (the plugin stopped mid-step): Resume goes on; finished steps are not run again.';
    }
    if (run.state === 'waiting-for-plugin') {
        return 'Steps that need Mattermost wait for the plugin: Resume runs them.';
    }
    return 'Nothing to do: the runbook goes on by itself; the bot posts each step to the ops channel.';
}

function stepDuration(s: FailoverStep, now: number): string {
    if (s.state === 'running' && s.started_at) {
        return `${formatDuration(now - toMillis(s.started_at))} so far`;
    }
    return s.duration_ms > 0 || s.state === 'done' || s.state === 'failed' ? formatDuration(s.duration_ms) : '';
}

const StepRow = ({step, index, now, current}: {step: FailoverStep; index: number; now: number; current: boolean}): React.JSX.Element => (
    <tr
        data-step={step.name}
        data-state={step.state}
        aria-current={current ? 'step' : undefined}
    >
        <td>{index + 1}</td>
        <th scope='row'>{step.title}</th>
        <td>
            <span className={`DrState DrState--${STEP_CLASS[step.state] ?? 'none'}`}>{STEP_LABELS[step.state] ?? step.state}</span>
        </td>
        <td>{step.confirmed_by ? `@${step.confirmed_by} (confirmed)` : step.actor ? `@${step.actor}` : ''}</td>
        <td>{stepDuration(step, now)}</td>
        <td><ServerText text={step.error ?? step.detail ?? ''}/></td>
    </tr>
);

const Buttons = ({status, busy, onAction}: {status: FailoverStatus; busy: boolean; onAction: FailoverPanelProps['onAction']}): React.JSX.Element | null => {
    const run = status.run;
    if (!run || terminal(run)) {
        return null;
    }
    const state = runState(status);
    const canConfirm = run.state === 'waiting';
    const canResume = ['waiting', 'failed', 'interrupted', 'waiting-for-plugin'].includes(state);
    const button = (action: FailoverAction, label: string, enabled: boolean, cls: string): React.JSX.Element => (
        <button
            type='button'
            className={`btn ${cls}`}
            disabled={busy || !enabled}
            onClick={() => onAction(action, run)}
        >
            {label}
        </button>
    );
    return (
        <div className='DrToolbar'>
            {button('confirm', 'Confirm…', canConfirm, 'btn-primary')}
            {button('resume', 'Resume…', canResume, 'btn-tertiary')}
            {button('abort', 'Abort…', !run.abort_requested, 'btn-danger')}
        </div>
    );
};

const Run = ({run, status, busy, now, onAction}: {run: FailoverRun; status: FailoverStatus; busy: boolean; now: number; onAction: FailoverPanelProps['onAction']}): React.JSX.Element => {
    const state = runState(status);
    const current = terminal(run) ? undefined : currentStep(run);
    const end = run.finished_at ? toMillis(run.finished_at) : now;
    const next = nextAction(status);
    return (
        <>
            <p data-testid='dr-failover-summary'>
                <strong>{`${run.kind === 'failback' ? 'Failback' : 'Failover'} ${run.from} → ${run.to} (${run.mode}): `}</strong>
                <span
                    className={`DrState DrState--${state === 'completed' ? 'healthy' : state === 'failed' ? 'critical' : 'degraded'}`}
                    data-run-state={state}
                >
                    {RUN_LABELS[state] ?? state}
                </span>
                <br/>
                <span className='DrMuted'>
                    {`Runbook ${run.id}, started ${formatTime(run.created_at, true)} by @${run.actor}${run.forced ? ' (forced past failing preflight checks)' : ''}, ${run.finished_at ? 'took' : 'running for'} ${formatDuration(end - toMillis(run.created_at))}${run.node ? `; node ${run.node}` : ''}.`}
                </span>
            </p>
            {status.job?.progress && !terminal(run) && (
                <div
                    className='DrJob'
                    data-testid='dr-failover-progress'
                >
                    {`Now: ${status.job.progress}`}
                </div>
            )}
            {next && (
                <div
                    className={state === 'failed' ? 'DrAlert' : 'DrJob'}
                    data-testid='dr-failover-next'
                >
                    <strong>{'What to do next: '}</strong>
                    <ServerText text={next}/>
                </div>
            )}
            <Buttons
                status={status}
                busy={busy}
                onAction={onAction}
            />
            <table aria-label='Runbook steps'>
                <thead>
                    <tr>
                        <th scope='col'>#</th>
                        <th scope='col'>Step</th>
                        <th scope='col'>State</th>
                        <th scope='col'>By</th>
                        <th scope='col'>Took</th>
                        <th scope='col'>Detail</th>
                    </tr>
                </thead>
                <tbody>
                    {run.steps.map((s, i) => (
                        <StepRow
                            key={s.name}
                            step={s}
                            index={i}
                            now={now}
                            current={s === current}
                        />
                    ))}
                </tbody>
            </table>
        </>
    );
};

/**
 * The current or last failover runbook: its steps with state and duration, what to do next,
 * and Confirm / Resume / Abort (each behind a confirmation, asked by the dashboard). Starting a
 * failover stays with `/dr failover` and drctl, where the plan is reviewed first.
 */
const FailoverPanel = ({failover, notice, busy, now, onAction}: FailoverPanelProps): React.JSX.Element => {
    const status = failover.data;
    return (
        <section
            aria-labelledby='dr-failover-title'
            data-testid='dr-failover'
        >
            <h4 id='dr-failover-title'>Failover</h4>
            <NoticeBox notice={notice}/>
            {failover.error && (
                <ErrorAlert
                    what={status ? 'Could not refresh the failover runbook (showing the last answer)' : 'Could not load the failover runbook'}
                    error={failover.error}
                />
            )}
            {status && !status.run && (
                <p>
                    <ServerText text='No failover was ever started. `/dr failover plan --to <region>` shows what one would do.'/>
                </p>
            )}
            {status?.run && (
                <Run
                    run={status.run}
                    status={status}
                    busy={busy}
                    now={now}
                    onAction={onAction}
                />
            )}
        </section>
    );
};

export default FailoverPanel;

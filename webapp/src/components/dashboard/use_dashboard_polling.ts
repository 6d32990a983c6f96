import {useEffect, useRef, useState, type Dispatch, type MutableRefObject, type SetStateAction} from 'react';

import type {ApiError, DrClient} from '../../api/client';
import type {AuditRecord, BackupList, FailoverStatus, FallbackRecord, StatusReport, VersionInfo} from '../../api/types';

import {toApiError, type Loaded} from './common';
import type {LagHistory, LagSeries} from './lag_history';

/** What the dashboard last heard from each of the six routes it polls. */
export interface Snapshot {
    loaded: boolean;
    status: Loaded<StatusReport>;
    backups: Loaded<BackupList>;
    fallbacks: Loaded<FallbackRecord[]>;
    audit: Loaded<AuditRecord[]>;
    version: Loaded<VersionInfo>;
    failover: Loaded<FailoverStatus>;
    lag: LagSeries[];
    updatedAt: number;
    refusal?: ApiError;
}

export interface PollingOptions {
    client: DrClient;
    lagHistory: LagHistory;
    pollFastMs: number;
    pollSlowMs: number;
    auditLimit: number;
}

/**
 * Refreshes at once and restarts the polling clock. After an action it takes the cached status
 * (a fresh run can take seconds and would hold back the job's progress); the Refresh button
 * asks for a fresh run. jobStarted: the action started a job.
 */
export type RefreshNow = (freshStatus: boolean, jobStarted: boolean) => void;

export interface DashboardPolling {
    snap: Snapshot;

    /** For what the page learns between polls (a job it started, a refusal of an action). */
    setSnap: Dispatch<SetStateAction<Snapshot>>;
    refreshNow: MutableRefObject<RefreshNow>;
}

const EMPTY: Snapshot = {loaded: false, status: {}, backups: {}, fallbacks: {}, audit: {}, version: {}, failover: {}, lag: [], updatedAt: 0};

function settle<T>(prev: Loaded<T>, result: PromiseSettledResult<T>): Loaded<T> {
    return result.status === 'fulfilled' ? {data: result.value} : {data: prev.data, error: toApiError(result.reason)};
}

/**
 * Polls the dashboard's six GET routes (status, backups, fallbacks, audit, version, failover):
 * every pollSlowMs, every pollFastMs while a backup, a verification or a failover runbook runs,
 * and not at all once the
 * server refuses the session. Stops on unmount; a new set of options starts over.
 */
export function useDashboardPolling({client, lagHistory, pollFastMs, pollSlowMs, auditLimit}: PollingOptions): DashboardPolling {
    const [snap, setSnap] = useState<Snapshot>(EMPTY);
    const refreshNow = useRef<RefreshNow>(() => undefined);

    useEffect(() => {
        const controller = new AbortController();
        let timer: ReturnType<typeof setTimeout> | undefined;
        let generation = 0;
        let jobRunning = false;

        // A job ended: its outcome changes the backups' state, so the next refresh (whichever
        // it is) asks for a fresh status run, until one has answered.
        let freshWanted = false;

        // Polls take the server's cached status run; a refresh the admin asks for, or the one
        // after a job ended, runs the probes afresh.
        const tick = async (freshRequested = false): Promise<void> => {
            clearTimeout(timer);
            const mine = ++generation;
            const fresh = freshRequested || freshWanted;
            const {signal} = controller;
            const results = await Promise.allSettled([
                client.status(signal, fresh),
                client.backups(signal),
                client.fallbacks(signal),
                client.audit(auditLimit, signal),
                client.version(signal),
                client.failover(signal),
            ]);

            // Unmounted, or a newer refresh started (after an action): its answers win.
            if (signal.aborted || mine !== generation) {
                return;
            }
            const [status, backups, fallbacks, audit, version, failover] = results;
            const now = Date.now();
            const refusal = results.
                filter((r): r is PromiseRejectedResult => r.status === 'rejected').
                map((r) => toApiError(r.reason)).
                find((e) => e.refused);
            if (status.status === 'fulfilled') {
                lagHistory.record(status.value.results, now);
                if (fresh) {
                    freshWanted = false;
                }
            }
            let jobEnded = false;
            if (backups.status === 'fulfilled') {
                const running = Boolean(backups.value.running ?? backups.value.verifying);
                jobEnded = jobRunning && !running;
                jobRunning = running;
                freshWanted = freshWanted || jobEnded;
            }
            const lag = lagHistory.list(now);
            setSnap((prev) => ({
                loaded: true,
                status: settle(prev.status, status),
                backups: settle(prev.backups, backups),
                fallbacks: settle(prev.fallbacks, fallbacks),
                audit: settle(prev.audit, audit),
                version: settle(prev.version, version),
                failover: settle(prev.failover, failover),
                lag,
                updatedAt: now,
                refusal,
            }));

            // Polling a refusing server would only fill its audit trail with refusals.
            if (!refusal) {
                // A runbook a node runs now moves step by step: follow it closely too.
                const runbookRunning = failover.status === 'fulfilled' && failover.value.running;
                timer = setTimeout(() => void tick(), jobEnded || jobRunning || runbookRunning ? pollFastMs : pollSlowMs);
            }
        };

        refreshNow.current = (freshStatus, jobStarted) => {
            // A job the page just started counts as running even if it ends before the next
            // poll sees it, so that its end still brings a fresh status.
            jobRunning = jobRunning || jobStarted;
            void tick(freshStatus);
        };
        void tick();
        return () => {
            controller.abort();
            clearTimeout(timer);
            refreshNow.current = () => undefined;
        };
    }, [client, lagHistory, pollFastMs, pollSlowMs, auditLimit]);

    return {snap, setSnap, refreshNow};
}

import type {ProbeMetric, ProbeResult} from '../../api/types';

import type {ChartPoint} from './line_chart';
import {toMillis} from './format';

export const LAG_WINDOW_MS = 24 * 60 * 60 * 1000;

// A day of polls every 30 s, plus the faster polls while jobs run: enough to never drop a
// point inside the window in practice, small enough to stay cheap.
const MAX_POINTS = 5000;

export interface LagSeries {
    key: string;
    label: string;

    /** What the value counts, from the metric name's suffix: seconds, bytes, operations… */
    unit: string;
    points: ChartPoint[];
}

const LAG_NAME = /(^|_)lag(_([a-z]+))?$/;

/**
 * Replication lag metrics are the ones whose name ends in lag or lag_<unit>, as the probes name
 * them: dr_pg_replication_lag_seconds, dr_pg_replication_lag_bytes, dr_aurora_rpo_lag_seconds,
 * dr_opensearch_checkpoint_lag_operations.
 */
export function isLagMetric(m: ProbeMetric): boolean {
    return LAG_NAME.test(m.name) && Number.isFinite(m.value);
}

function unitOf(name: string): string {
    return LAG_NAME.exec(name)?.[3] ?? 'value';
}

function labelOf(m: ProbeMetric): string {
    const labels = Object.entries(m.labels ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
    return labels.length > 0 ? `${m.name}{${labels.join(',')}}` : m.name;
}

/**
 * The replication lag the status results reported, over the last 24 hours. The server keeps no
 * history of it: this page collects it from its own polls, so it covers only the time the
 * dashboard has been open in this browser tab (it survives leaving and re-opening the page,
 * not a reload).
 */
export class LagHistory {
    private readonly series = new Map<string, LagSeries>();

    /** Adds the lag metrics of one status answer; returns whether it had any. */
    record(results: ProbeResult[], now: number): boolean {
        let found = false;
        for (const r of results) {
            const checked = toMillis(r.checked_at);
            const t = Number.isFinite(checked) && checked > 0 ? checked : now;
            for (const m of r.metrics ?? []) {
                if (!isLagMetric(m)) {
                    continue;
                }
                found = true;
                const key = labelOf(m);
                let s = this.series.get(key);
                if (!s) {
                    s = {key, label: key, unit: unitOf(m.name), points: []};
                    this.series.set(key, s);
                }

                // The server may answer from a cached check: one point per check, not per poll.
                const last = s.points[s.points.length - 1];
                if (!last || last.t < t) {
                    s.points.push({t, v: m.value});
                }
            }
        }
        this.prune(now);
        return found;
    }

    /** The series with points inside the window, in a stable order. */
    list(now: number): LagSeries[] {
        this.prune(now);
        return [...this.series.values()].filter((s) => s.points.length > 0).sort((a, b) => a.key.localeCompare(b.key));
    }

    private prune(now: number): void {
        for (const [key, s] of this.series) {
            const keepFrom = s.points.findIndex((p) => p.t >= now - LAG_WINDOW_MS);
            s.points = keepFrom < 0 ? [] : s.points.slice(Math.max(keepFrom, s.points.length - MAX_POINTS));
            if (s.points.length === 0) {
                this.series.delete(key);
            }
        }
    }
}

/** The history the registered dashboard uses: one per page, kept while the web app stays open. */
export const pageLagHistory = new LagHistory();

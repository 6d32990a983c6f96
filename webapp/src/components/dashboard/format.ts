// Formatting shared by the dashboard. Times are shown in UTC, like the /dr commands and the
// audit export, so that what the admin reads here matches what the bot posts.

/** Bytes in binary units, as the server's /dr commands print them ("1.5 MiB"). */
export function formatBytes(n: number): string {
    if (!Number.isFinite(n) || n < 1024) {
        return `${Number.isFinite(n) ? Math.round(n) : 0} B`;
    }
    const units = 'KMGTPE';
    let value = n / 1024;
    let exp = 0;
    while (value >= 1024 && exp < units.length - 1) {
        value /= 1024;
        exp++;
    }
    return `${value.toFixed(1)} ${units[exp] ?? '?'}iB`;
}

/** A duration in milliseconds, to the precision that matters at its size ("850 ms", "3 min 4 s"). */
export function formatDuration(ms: number): string {
    if (!Number.isFinite(ms) || ms < 0) {
        return '—';
    }
    if (ms < 1000) {
        return `${Math.round(ms)} ms`;
    }
    const s = Math.round(ms / 1000);
    if (s < 60) {
        return `${s} s`;
    }
    const min = Math.floor(s / 60);
    if (min < 60) {
        return s % 60 === 0 ? `${min} min` : `${min} min ${s % 60} s`;
    }
    const h = Math.floor(min / 60);
    if (h < 48) {
        return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
    }
    return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Parses a server time (RFC 3339 string or ms since the epoch); NaN when there is none. */
export function toMillis(value: string | number | undefined | null): number {
    if (typeof value === 'number') {
        return value;
    }
    if (!value) {
        return NaN;
    }
    return Date.parse(value);
}

/** "2026-03-01 14:05 UTC", or "—" when the time is missing or not a time. */
export function formatTime(value: string | number | undefined | null, seconds = false): string {
    const ms = toMillis(value);
    if (!Number.isFinite(ms) || ms <= 0) {
        return '—';
    }
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
}

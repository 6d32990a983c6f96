import React from 'react';

export type Verdict = 'healthy' | 'degraded' | 'critical' | 'unknown';

export interface StatusBadgeProps {
    verdict: Verdict;
    reasons: React.ReactNode[];

    /** Components the admin has not set up: shown apart and neutral, since they are a choice, not a failure. */
    notSetUp?: string[];
}

const LABELS: Record<Verdict, string> = {
    healthy: 'Healthy',
    degraded: 'Degraded',
    critical: 'Critical',
    unknown: 'Status unknown',
};

// Colours come from the Mattermost theme's CSS variables, so the badge follows
// the user's theme; the fallbacks apply outside the web app (e.g. in tests).
const COLORS: Record<Verdict, string> = {
    healthy: 'var(--online-indicator, #06d6a0)',
    degraded: 'var(--away-indicator, #ffbc1f)',
    critical: 'var(--dnd-indicator, #d24b4e)',
    unknown: 'rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.56)',
};

/**
 * Maps any value to a known verdict. The verdict comes from the server, so a
 * value this webapp does not know (e.g. from a newer server) is shown as unknown
 * rather than breaking the page.
 */
export function normalizeVerdict(value: unknown): Verdict {
    return typeof value === 'string' && Object.prototype.hasOwnProperty.call(LABELS, value) ? value as Verdict : 'unknown';
}

/** The neutral look of a component the admin has not set up: muted, no colour, unlike an error. */
export const NOT_SET_UP_COLOR = 'rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.64)';

const StatusBadge = ({verdict, reasons, notSetUp = []}: StatusBadgeProps): React.JSX.Element => {
    const known = normalizeVerdict(verdict);

    return (
        <div
            className={`DisasterRecoveryStatusBadge DisasterRecoveryStatusBadge--${known}`}
            data-verdict={known}
        >
            <span
                role='status'
                style={{display: 'inline-flex', alignItems: 'center', gap: '6px', fontWeight: 600}}
            >
                <span
                    aria-hidden='true'
                    style={{display: 'inline-block', width: '10px', height: '10px', borderRadius: '50%', backgroundColor: COLORS[known]}}
                />
                {LABELS[known]}
            </span>
            {reasons.length > 0 && (
                <ul aria-label='Reasons'>
                    {reasons.map((reason, index) => (
                        // Reasons may repeat and the list is replaced as a whole: the index is the key.
                        <li key={index}>{reason}</li>
                    ))}
                </ul>
            )}
            {notSetUp.length > 0 && (
                <p
                    className='DisasterRecoveryStatusBadge__notSetUp'
                    style={{color: NOT_SET_UP_COLOR, margin: '4px 0 0'}}
                >
                    {`Not set up (not counted in the verdict): ${notSetUp.join(', ')}`}
                </p>
            )}
        </div>
    );
};

export default StatusBadge;

import React from 'react';

import {ApiError} from '../../api/client';

/** Data of one API call: the latest answer, and the error of the latest call if it failed. */
export interface Loaded<T> {
    data?: T;
    error?: ApiError;
}

/** The outcome of an action, shown in its section until the next action there. */
export interface Notice {
    kind: 'error' | 'info';
    text: string;
}

/** Anything thrown by a call, as an ApiError (the client throws those; this covers the rest). */
export function toApiError(err: unknown): ApiError {
    if (err instanceof ApiError) {
        return err;
    }
    return new ApiError(err instanceof Error ? err.message : String(err), 0, '', '');
}

/** What to tell the admin about a failed call: the server's message, and what it means. */
export function describeError(err: ApiError): string {
    if (err.routeMissing) {
        return `This plugin's server does not offer ${err.method} /api/v1${err.path.replace(/\?.*$/, '')} (HTTP 404: ${err.message}). ` +
            'It comes with a newer version of the plugin: update the plugin on the server.';
    }
    return err.status > 0 ? `${err.message} (HTTP ${err.status})` : err.message;
}

export const ErrorAlert = ({what, error}: {what: string; error: ApiError}): React.JSX.Element => (
    <div
        role='alert'
        className='DrAlert'
    >
        {`${what}: ${describeError(error)}`}
    </div>
);

export const NoticeBox = ({notice}: {notice?: Notice}): React.JSX.Element | null => {
    if (!notice) {
        return null;
    }
    return notice.kind === 'error' ? (
        <div
            role='alert'
            className='DrAlert'
        >
            {notice.text}
        </div>
    ) : (
        <div
            role='status'
            className='DrInfo'
        >
            {notice.text}
        </div>
    );
};

export const STATE_LABELS: Record<string, string> = {
    healthy: 'Healthy',
    degraded: 'Degraded',
    critical: 'Critical',
    unknown: 'Unknown',
    not_configured: 'Not configured',
    none: 'Not reported',
};

export const StateLabel = ({state}: {state: string}): React.JSX.Element => {
    const known = Object.prototype.hasOwnProperty.call(STATE_LABELS, state) ? state : 'unknown';
    return <span className={`DrState DrState--${known}`}>{STATE_LABELS[known]}</span>;
};

// **bold** outside code, as the runbook's details mark a verdict.
const Bold = ({text}: {text: string}): React.JSX.Element => {
    const parts = text.split('**');
    if (parts.length % 2 === 0) {
        return <>{text}</>;
    }
    return <>{parts.map((part, i) => (i % 2 === 1 ? <strong key={i}>{part}</strong> : <React.Fragment key={i}>{part}</React.Fragment>))}</>;
};

/**
 * Text from the server, which marks commands and names with backticks as in its Markdown posts
 * (`/dr backup now`): shown here as code, and **bold** as bold.
 */
export const ServerText = ({text}: {text: string}): React.JSX.Element => {
    const parts = text.split('`');

    // An odd count of backticks leaves one unmatched: keep the text as it is then.
    if (parts.length % 2 === 0) {
        return <Bold text={text}/>;
    }
    return (
        <>
            {parts.map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : <Bold key={i} text={part}/>))}
        </>
    );
};

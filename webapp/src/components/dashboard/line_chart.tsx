import React from 'react';

import {formatTime} from './format';

export interface ChartPoint {
    t: number; // ms since the epoch
    v: number;
}

export interface ChartSeries {
    label: string;
    points: ChartPoint[];
}

export interface LineChartProps {
    title: string;
    series: ChartSeries[];
    formatValue: (v: number) => string;

    /** Shown instead of the chart when no series has a point. */
    empty: string;

    /** Fixed time range (e.g. the last 24 hours); default: the range of the points. */
    xDomain?: [number, number];
    width?: number;
    height?: number;
}

// Theme colours with fallbacks for pages outside the web app.
const COLORS = [
    'var(--button-bg, #1c58d9)',
    'var(--online-indicator, #06d6a0)',
    'var(--away-indicator, #ffbc1f)',
    'var(--dnd-indicator, #d24b4e)',
    'var(--mention-bg, #7f53e8)',
];

const PAD = {left: 70, right: 12, top: 10, bottom: 22};

/**
 * A small line chart in plain SVG: values from 0 to the largest one, time along the bottom.
 * Each point carries a <title>, so hovering shows its exact time and value.
 */
const LineChart = ({title, series, formatValue, empty, xDomain, width = 420, height = 150}: LineChartProps): React.JSX.Element => {
    const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
    if (all.length === 0) {
        return (
            <figure className='DrChart'>
                <figcaption>{title}</figcaption>
                <p className='DrMuted'>{empty}</p>
            </figure>
        );
    }

    let [x0, x1] = xDomain ?? [Math.min(...all.map((p) => p.t)), Math.max(...all.map((p) => p.t))];
    if (x1 <= x0) {
        // A single moment: centre it in an hour.
        x0 -= 30 * 60_000;
        x1 += 30 * 60_000;
    }
    const yMax = Math.max(...all.map((p) => p.v)) || 1;
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const x = (t: number): number => PAD.left + ((t - x0) / (x1 - x0)) * plotW;
    const y = (v: number): number => PAD.top + plotH - (Math.max(0, v) / yMax) * plotH;
    const latest = all.reduce((a, b) => (b.t >= a.t ? b : a));

    return (
        <figure className='DrChart'>
            <figcaption>{title}</figcaption>
            <svg
                role='img'
                aria-label={`${title}: ${all.length} point${all.length === 1 ? '' : 's'}, latest ${formatValue(latest.v)} at ${formatTime(latest.t)}, highest ${formatValue(yMax)}`}
                viewBox={`0 0 ${width} ${height}`}
                width={width}
                height={height}
                style={{maxWidth: '100%', height: 'auto', fontSize: '10px'}}
            >
                {[0, 0.5, 1].map((f) => (
                    <g key={f}>
                        <line
                            x1={PAD.left}
                            x2={width - PAD.right}
                            y1={y(yMax * f)}
                            y2={y(yMax * f)}
                            stroke='rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.16)'
                        />
                        <text
                            x={PAD.left - 4}
                            y={y(yMax * f) + 3}
                            textAnchor='end'
                            fill='currentColor'
                        >
                            {formatValue(yMax * f)}
                        </text>
                    </g>
                ))}
                <text
                    x={PAD.left}
                    y={height - 6}
                    fill='currentColor'
                >
                    {formatTime(x0)}
                </text>
                <text
                    x={width - PAD.right}
                    y={height - 6}
                    textAnchor='end'
                    fill='currentColor'
                >
                    {formatTime(x1)}
                </text>
                {series.map((s, i) => {
                    const color = COLORS[i % COLORS.length];
                    const points = [...s.points].filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)).sort((a, b) => a.t - b.t);
                    return (
                        <g
                            key={s.label}
                            data-series={s.label}
                        >
                            {points.length > 1 && (
                                <polyline
                                    fill='none'
                                    stroke={color}
                                    strokeWidth={2}
                                    points={points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')}
                                />
                            )}
                            {points.map((p, j) => (
                                <circle
                                    key={`${p.t}:${j}`}
                                    cx={x(p.t)}
                                    cy={y(p.v)}
                                    r={points.length > 60 ? 1.5 : 3}
                                    fill={color}
                                >
                                    <title>{`${s.label}: ${formatValue(p.v)} at ${formatTime(p.t, true)}`}</title>
                                </circle>
                            ))}
                        </g>
                    );
                })}
            </svg>
            {series.length > 1 && (
                <ul className='DrLegend'>
                    {series.map((s, i) => (
                        <li key={s.label}>
                            <span
                                aria-hidden='true'
                                style={{background: COLORS[i % COLORS.length]}}
                            />
                            {s.label}
                        </li>
                    ))}
                </ul>
            )}
        </figure>
    );
};

export default LineChart;

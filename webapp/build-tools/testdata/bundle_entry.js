// Entry used by bundle.test.ts only: imports every library the Mattermost web
// app provides as a global, plus a real component, so the test can check that
// none of them is bundled. Plain JS (no JSX) so it needs no type checking.
import React from 'react';
import ReactDOM from 'react-dom';
import {combineReducers} from 'redux';
import {connect} from 'react-redux';

import StatusBadge from '../../src/components/status_badge';

window.bundleProbe = {
    React,
    ReactDOM,
    combineReducers,
    connect,
    element: React.createElement(StatusBadge, {verdict: 'healthy', reasons: ['ok']}),
    nodeEnv: process.env.NODE_ENV,
};

import './style.css';
import { ApiError, type ConnectionState, getHealth, setToken, token } from './api.js';
import { clusterPage } from './cluster-page.js';
import { h, replaceChildren } from './dom.js';
import { jobPage } from './job-page.js';
import { jobsListPage } from './jobs-list.js';
import type { Page } from './page.js';
import { submitPage } from './submit-page.js';

const root = document.getElementById('app')!;
const connection = document.getElementById('connection')!;
const clusterLink = document.getElementById('cluster-link')!;
let current: AbortController | undefined;

/**
 * Shows the Cluster link when the server runs its jobs on a cluster (its health says so: asking /api/cluster
 * would log a 404 in the console of every other server). Asked again at each view until it does.
 */
function probeCluster(signal: AbortSignal): void {
  if (!clusterLink.hidden) return;
  getHealth(signal).then(
    (health) => {
      clusterLink.hidden = health.cluster !== true;
    },
    () => undefined,
  );
}

/** Draws the view the hash names (#/, #/jobs/<id>, #/submit, #/cluster); leaving a view aborts its requests and streams. */
function route(): void {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const page: Page = {
    root,
    signal: controller.signal,
    fail: (error) => {
      if (!controller.signal.aborted) showFailure(error);
    },
    connection: (state: ConnectionState) => {
      connection.textContent = state === 'live' ? 'live' : 'reconnecting…';
      connection.className = `connection ${state}`;
    },
  };
  connection.textContent = '';
  replaceChildren(root, h('p', { class: 'muted' }, 'Loading…'));
  const hash = location.hash.replace(/^#/, '') || '/';
  const job = /^\/jobs\/([^/]+)$/.exec(hash);
  let drawn: Promise<void> | void;
  if (job) drawn = jobPage(page, decodeURIComponent(job[1]!));
  else if (hash === '/submit') drawn = submitPage(page);
  else if (hash === '/cluster') drawn = clusterPage(page);
  else drawn = jobsListPage(page);
  void Promise.resolve(drawn).catch(page.fail);
  probeCluster(controller.signal);
}

function showFailure(error: unknown): void {
  if (error instanceof ApiError && error.status === 401) {
    showTokenForm(token() !== null);
    return;
  }
  const message = error instanceof ApiError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
  replaceChildren(root, h('section', { class: 'card error-box' }, h('h2', null, 'Something went wrong'), h('pre', { class: 'error-message' }, message), h('p', null, h('a', { attrs: { href: '#/' } }, 'Back to the jobs'))));
}

/** The server wants a bearer token: ask for it once and keep it in this browser's local storage. */
function showTokenForm(rejected: boolean): void {
  const input = h('input', { attrs: { type: 'password', autocomplete: 'current-password', 'aria-label': 'token' } });
  const form = h('form', { class: 'token-form' }, input, h('button', { class: 'action', attrs: { type: 'submit' } }, 'Use this token'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value.trim() || null);
    route();
  });
  replaceChildren(
    root,
    h(
      'section',
      { class: 'card' },
      h('h1', null, 'Token needed'),
      h('p', null, rejected ? 'The server refused the token this browser had. ' : '', 'This server was started with --token: enter it to see and control its jobs.'),
      form,
    ),
  );
  input.focus();
}

window.addEventListener('hashchange', route);
route();

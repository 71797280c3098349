import { ApiError, submitJob } from './api.js';
import { h, replaceChildren } from './dom.js';
import type { Page } from './page.js';

const EXAMPLE = `env:
  name: dashboard-demo
  mode: streaming
  checkpoint:
    interval: 5s
source:
  - type: fake
    name: orders
    unbounded: true
    rows_per_second: 20000
transform:
  - type: filter
    name: big-orders
    where:
      - { column: amount, op: '>=', value: 100 }
sink:
  - type: blackhole
    name: discard
`;

/** A form that posts a job's YAML to the API and opens the new job, or lists the problems found in it. */
export function submitPage(page: Page): void {
  const text = h('textarea', { class: 'yaml', attrs: { spellcheck: 'false', rows: '22', 'aria-label': 'job YAML' } });
  text.value = EXAMPLE;
  const problems = h('div', { class: 'problems', attrs: { role: 'alert' } });
  const submit = h('button', { class: 'action', attrs: { type: 'submit' } }, 'Submit');
  const form = h('form', { class: 'submit-form' }, text, h('div', { class: 'actions' }, submit), problems);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    replaceChildren(problems);
    submitJob(text.value)
      .then(({ id }) => {
        location.hash = `#/jobs/${id}`;
      })
      .catch((error: unknown) => {
        submit.disabled = false;
        if (!(error instanceof ApiError)) return page.fail(error);
        if (error.status === 401) return page.fail(error);
        replaceChildren(
          problems,
          h('p', { class: 'error-code' }, `${error.code}`),
          error.issues.length > 0
            ? h('ul', null, error.issues.map((i) => h('li', null, h('code', null, `${i.location ? `line ${i.location.line}:${i.location.col} ` : ''}${i.path}`), ` ${i.message}`)))
            : h('pre', { class: 'error-message' }, error.message),
        );
      });
  });
  replaceChildren(
    page.root,
    h(
      'section',
      { class: 'card' },
      h('h1', null, 'Submit a job'),
      h('p', { class: 'muted' }, 'The job\'s YAML, as for tideway run. ${NAME} variables come from the server\'s environment. A job whose name is already running is refused.'),
      form,
    ),
  );
}

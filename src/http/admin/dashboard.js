// @ts-check
// Gatehouse admin dashboard: plain ES module, no build step, no dependency. Every number comes
// from the gateway's admin API with the token the operator typed (kept in sessionStorage, i.e.
// this tab only). Refreshes every 2 s without reloading. Untrusted strings (user ids, names,
// room names, group names, message contents) only ever go through textContent, never innerHTML.
//
// Type-checked by `npm run typecheck` (@ts-check, JSDoc): the API's answers are typed from the
// routes' own schemas through api-types.ts, so a field renamed there fails the typecheck here
// instead of showing '–' in the browser. The JSDoc is all there is: the browser runs this file
// as it is.

/** @typedef {import('./api-types.ts').ErrorBody} ErrorBody */
/** @typedef {import('./api-types.ts').WsStats} WsStats */
/** @typedef {import('./api-types.ts').NodesList} NodesList */
/** @typedef {import('./api-types.ts').StatsHistory} StatsHistory */
/** @typedef {import('./api-types.ts').HistoryPoint} HistoryPoint */
/** @typedef {import('./api-types.ts').OnlinePlayersPage} OnlinePlayersPage */
/** @typedef {import('./api-types.ts').OnlinePlayer} OnlinePlayer */
/** @typedef {import('./api-types.ts').RoomsPage} RoomsPage */
/** @typedef {import('./api-types.ts').LogoutResult} LogoutResult */
/** @typedef {import('./api-types.ts').Group} Group */
/** @typedef {import('./api-types.ts').HistoryPage} HistoryPage */
/** @typedef {import('./api-types.ts').HistoryMessage} HistoryMessage */
/** @typedef {import('./api-types.ts').UserGroups} UserGroups */

const TOKEN_KEY = 'gatehouse.adminToken';
const REFRESH_MS = 2000;
const PAGE_SIZE = 50;
/** Typing pauses this long before the search is sent, so a word costs one request, not one per key. */
const SEARCH_DEBOUNCE_MS = 250;
/** The userId characters (GET /api/online/players `prefix`): anything else cannot match. */
const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{0,64}$/;
/** A userId, and a group id (same grammar): GET /api/groups/:groupId answers 400 to anything else. */
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** The groups panel shows this many of a group's newest stored messages. */
const GROUP_MESSAGES = 20;
/** The groups panel lists this many members at most (a group may have up to GROUP_MAX_MEMBERS). */
const GROUP_MEMBERS_SHOWN = 200;
/** Message contents longer than this (characters) are cut for display; the tooltip holds more. */
const CONTENT_SHOWN = 140;
const CONTENT_TOOLTIP = 2000;
const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * The elements whose own properties the script uses, by id, with their tag in index.html (checked
 * by test/admin/dashboard-grammar.test.ts); any other id is a plain HTMLElement.
 * @typedef {{
 *   'token-input': HTMLInputElement,
 *   search: HTMLInputElement,
 *   'group-input': HTMLInputElement,
 *   'nodes-table': HTMLTableElement,
 *   'players-table': HTMLTableElement,
 *   'prev-page': HTMLButtonElement,
 *   'next-page': HTMLButtonElement,
 * }} Elements
 */

/**
 * The element of index.html with this id (the page has every id the script asks for).
 * @template {string} Id
 * @param {Id} id
 * @returns {Id extends keyof Elements ? Elements[Id] : HTMLElement}
 */
const $ = (id) => /** @type {any} */ (document.getElementById(id));

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  /** @type {ReturnType<typeof setInterval> | undefined} */
  timer: undefined,
  refreshing: false,
  again: false,
  /** @type {(string | undefined)[]} cursor of each page shown so far; [0] is the first page (undefined cursor) */
  cursors: [undefined],
  page: 0,
  /** @type {string | undefined} */
  nextCursor: undefined,
  /** @type {OnlinePlayer[]} */
  players: [],
  /** whether `players` holds a page the gateway answered (the groups panel marks members from it) */
  playersLoaded: false,
  roomsMissing: false,
  /** userId prefix searched on the server ('' = everyone) */
  prefix: '',
  /** bumped when the prefix or the page changes: answers to older queries are dropped */
  view: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  searchTimer: undefined,
  /** bumped by each "Show" of the groups panel: answers to an older one are dropped */
  groupView: 0,
  /** the same for the list of a player's groups */
  userGroupsView: 0,
};

class Unauthorized extends Error {}

/**
 * An answer of the admin API: `body` is the parsed JSON (null when not JSON). Its shape depends
 * on the route and the status, so each caller names it (a type of api-types.ts) once it has
 * checked the status.
 * @typedef {{ status: number, body: unknown }} Answer
 */

/**
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 * @returns {Promise<Answer>}
 */
async function api(path, { method = 'GET', body } = {}) {
  /** @type {Record<string, string>} */
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  if (res.status === 401 || res.status === 403) throw new Unauthorized(`${res.status}`);
  let json = null;
  try {
    json = await res.json();
  } catch {
    // not JSON (or empty)
  }
  return { status: res.status, body: json };
}

/* ------------------------------------------------------------------ formatting */

const nf = new Intl.NumberFormat('en');
/** @param {unknown} n */
const num = (n) => (typeof n === 'number' && Number.isFinite(n) ? nf.format(n) : '–');

/** @param {unknown} ms */
function ago(ms) {
  if (typeof ms !== 'number') return '–';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
}

/** @param {number} ms */
function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min`;
}

/** @param {number} t */
const clock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** @param {number} t a date and time to the second (the ISO form goes in the tooltip) */
const stamp = (t) =>
  new Date(t).toLocaleString([], { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/**
 * At most `max` characters (code points, so no emoji is cut in half) of `text`, an ellipsis
 * ending what was cut.
 * @param {string} text
 * @param {number} max
 */
function truncate(text, max) {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * What a failed answer says, for an error line: the status, and the API's message when it has one.
 * @param {Answer} answer
 */
function failure(answer) {
  const message = /** @type {ErrorBody | null} */ (answer.body)?.message;
  return typeof message === 'string' ? `HTTP ${answer.status}: ${message}` : `HTTP ${answer.status}`;
}

/**
 * @template {keyof HTMLElementTagNameMap} Tag
 * @param {Tag} tag
 * @param {string} [text]
 * @param {string} [className]
 */
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;

/** @param {string} text */
function toast(text) {
  const box = $('toast');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), 3000);
}

/* ------------------------------------------------------------------ views */

/** @param {string} [message] */
function showLogin(message = '') {
  clearInterval(state.timer);
  state.timer = undefined;
  $('dashboard-view').hidden = true;
  $('login-view').hidden = false;
  $('sign-out').hidden = true;
  $('node-badge').hidden = true;
  $('updated').textContent = '';
  $('login-error').textContent = message;
  $('token-input').focus();
}

function showDashboard() {
  $('login-view').hidden = true;
  $('dashboard-view').hidden = false;
  $('sign-out').hidden = false;
  void refresh();
  clearInterval(state.timer);
  state.timer = setInterval(() => void refresh(), REFRESH_MS);
}

/** @param {string} [message] */
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  // What the groups panel showed is not for whoever signs in next.
  state.groupView++;
  state.userGroupsView++;
  groupState('');
  $('user-groups').hidden = true;
  $('user-groups').replaceChildren();
  $('group-error').hidden = true;
  $('group-input').value = '';
  showLogin(message);
}

/** @param {WsStats} stats */
function renderStats(stats) {
  $('stat-connections').textContent = num(stats.connections);
  $('stat-users').textContent = num(stats.users);
  $('stat-pending').textContent = stats.pendingLogouts === null ? 'n/a' : num(stats.pendingLogouts);
  $('stat-dropped').textContent = num(stats.droppedMessages);
  $('stat-timeouts').textContent = num(stats.heartbeatTimeouts);
  const badge = $('node-badge');
  badge.hidden = false;
  badge.textContent = `node ${stats.nodeId}${stats.draining ? ' · draining' : ''} · up ${duration(Math.round(stats.uptimeSeconds * 1000))}`;
}

/** @param {NodesList} list */
function renderNodes(list) {
  const tbody = /** @type {HTMLTableSectionElement} */ ($('nodes-table').tBodies[0]);
  tbody.replaceChildren(
    ...list.nodes.map((node) => {
      const tr = el('tr');
      tr.dataset.nodeId = node.nodeId;
      const name = el('td', node.nodeId);
      if (node.self) name.append(el('span', ' (this node)', 'muted'));
      tr.append(name, el('td', duration(node.leaseAgeMs)));
      const status = el('td');
      status.append(el('span', node.status, `status ${node.status}`));
      tr.append(status);
      return tr;
    }),
  );
  $('stat-nodes').textContent = num(list.nodes.filter((n) => n.status !== 'dead').length);
}

/** @typedef {HTMLCollectionOf<HTMLTableCellElement> & Record<0 | 1 | 2 | 3 | 4 | 5 | 6, HTMLTableCellElement>} PlayerCells a player row: seven value cells (built below), then the action cell */

/** Rows are keyed by userId and updated in place, so a button does not vanish under the pointer. */
function renderPlayers() {
  const tbody = /** @type {HTMLTableSectionElement} */ ($('players-table').tBodies[0]);
  const existing = new Map([...tbody.rows].map((row) => [row.dataset.userId, row]));
  const rows = state.players.map((player) => {
    let row = existing.get(player.userId);
    if (!row) {
      row = el('tr');
      row.dataset.userId = player.userId;
      for (let i = 0; i < 7; i++) row.append(el('td'));
      // The userId (the row's key: it never changes) lists the player's groups when clicked.
      const groups = el('button', player.userId, 'link user-groups');
      groups.type = 'button';
      groups.dataset.userId = player.userId;
      groups.title = `Show the groups of ${player.userId}`;
      /** @type {HTMLTableCellElement} */ (row.cells[0]).append(groups);
      const action = el('td');
      const button = el('button', 'Log out', 'danger logout');
      button.type = 'button';
      button.dataset.userId = player.userId;
      button.setAttribute('aria-label', `Log out ${player.userId}`);
      action.append(button);
      row.append(action);
    }
    const cells = /** @type {PlayerCells} */ (row.cells);
    cells[1].textContent = player.username;
    const status = player.status ?? 'online';
    if (cells[2].dataset.status !== status) {
      cells[2].dataset.status = status;
      cells[2].replaceChildren(el('span', status, `status ${status}`));
    }
    cells[3].textContent = player.nodeId;
    cells[4].textContent = num(player.sessions);
    cells[4].className = 'num';
    cells[5].textContent = ago(player.connectedAt);
    cells[5].title = new Date(player.connectedAt).toISOString();
    cells[6].textContent = ago(player.lastHeartbeat);
    return row;
  });
  tbody.replaceChildren(...rows);
  $('players-empty').hidden = rows.length > 0;
  $('players-empty').textContent = state.prefix ? `No online player's userId starts with "${state.prefix}".` : 'No player online.';
  $('prev-page').disabled = state.page === 0;
  $('next-page').disabled = state.nextCursor === undefined;
  markMembers();
}

/** @param {Answer} answer of GET /api/rooms */
function renderRooms(answer) {
  const box = $('rooms');
  if (answer.status === 404) {
    state.roomsMissing = true;
    box.replaceChildren(el('p', 'Rooms not available on this gateway (GET /api/rooms answered 404).', 'muted'));
    return;
  }
  if (answer.status !== 200) {
    box.replaceChildren(el('p', `Rooms could not be loaded (HTTP ${answer.status}).`, 'error'));
    return;
  }
  const body = /** @type {RoomsPage} */ (answer.body);
  const rooms = body.rooms;
  if (rooms.length === 0) {
    box.replaceChildren(el('p', 'No room has members.', 'muted'));
    return;
  }
  const table = el('table');
  const head = el('tr');
  head.append(el('th', 'Room'), el('th', 'Members (cluster)'), el('th', 'Members (this node)'), el('th', 'Nodes'));
  const thead = el('thead');
  const tbody = el('tbody');
  table.append(thead, tbody);
  thead.append(head);
  for (const room of rooms) {
    const nodes = Object.entries(room.nodes)
      .map(([node, count]) => `${node}: ${count}`)
      .join(', ');
    const tr = el('tr');
    tr.dataset.room = room.room;
    tr.append(el('td', room.room), el('td', num(room.clusterMembers)), el('td', num(room.localMembers)), el('td', nodes, 'muted'));
    tbody.append(tr);
  }
  box.replaceChildren(table);
  if (body.nextCursor) box.append(el('p', `First ${rooms.length} rooms shown, in name order.`, 'muted small'));
}

/** @param {StatsHistory} history */
function renderChart(history) {
  const box = $('chart');
  const points = history.points;
  $('chart-note').textContent = `· one point every ${duration(history.intervalMs)} · node ${history.nodeId}`;
  const width = 720;
  const height = 220;
  const pad = { left: 44, right: 12, top: 12, bottom: 24 };
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Online players and connections over the last hour');
  /**
   * @param {string} tag
   * @param {Record<string, string | number>} attrs
   * @param {string} [text]
   */
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  const now = Date.now();
  const t0 = Math.min(now - 3_600_000, points[0]?.t ?? now);
  const max = Math.max(1, ...points.map((p) => Math.max(p.connections, p.onlineUsers ?? 0)));
  const yMax = niceCeil(max);
  /** @param {number} t */
  const x = (t) => pad.left + ((t - t0) / (now - t0)) * (width - pad.left - pad.right);
  /** @param {number} v */
  const y = (v) => height - pad.bottom - (v / yMax) * (height - pad.top - pad.bottom);
  for (const frac of [0, 0.5, 1]) {
    add('line', { class: 'axis', x1: pad.left, x2: width - pad.right, y1: y(yMax * frac), y2: y(yMax * frac) });
    add('text', { class: 'label', x: pad.left - 6, y: y(yMax * frac) + 4, 'text-anchor': 'end' }, num(yMax * frac));
  }
  for (const t of [t0, t0 + (now - t0) / 2, now]) {
    add('text', { class: 'label', x: x(t), y: height - 6, 'text-anchor': t === t0 ? 'start' : t === now ? 'end' : 'middle' }, clock(t));
  }
  /** @param {'connections' | 'onlineUsers'} key */
  const path = (key) => {
    let d = '';
    let pen = 'M';
    for (const p of points) {
      const value = p[key];
      if (value === null || value === undefined) {
        pen = 'M'; // a gap where the store did not answer
        continue;
      }
      d += `${pen}${x(p.t).toFixed(1)},${y(value).toFixed(1)} `;
      pen = 'L';
    }
    return d.trim();
  };
  if (points.length > 0) {
    add('path', { class: 'line-connections', d: path('connections') });
    add('path', { class: 'line-online', d: path('onlineUsers') });
    const last = /** @type {HistoryPoint} */ (points[points.length - 1]);
    if (last.onlineUsers !== null) add('circle', { cx: x(last.t), cy: y(last.onlineUsers), r: 3.5, fill: 'var(--online)' });
  } else {
    add('text', { class: 'label', x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'No sample yet');
  }
  box.replaceChildren(svg);
}

/**
 * A round axis maximum >= n whose half is round too (counts are integers).
 * @param {number} n
 */
function niceCeil(n) {
  if (n <= 2) return 2;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 4, 6, 8, 10]) if (n <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

/* ------------------------------------------------------------------ groups */

/**
 * Shows one state of the groups panel: `data-state` names it (not-found, unavailable, error,
 * invalid, loading, group) for the tests and the stylesheet.
 * @param {string} name
 * @param {...Node} nodes
 */
function groupState(name, ...nodes) {
  const box = $('group');
  box.dataset.state = name;
  box.replaceChildren(...nodes);
}

/** @param {string} what e.g. 'The group' */
const unavailable = (what) => `The database cannot be reached (HTTP 503): ${what} cannot be read now. Show it again in a moment.`;

/**
 * A stored message's content as text: a string as it was sent, any other JSON value as JSON.
 * @param {unknown} content
 */
function contentText(content) {
  if (typeof content === 'string') return content;
  try {
    return JSON.stringify(content) ?? String(content);
  } catch {
    return String(content);
  }
}

/**
 * The members of the group shown get their status from the page of players shown above (no
 * request of their own): online or reconnecting when they are on it; offline when that page is
 * the whole, unfiltered list of online players; no mark otherwise (they may be on another page).
 */
function markMembers() {
  const items = /** @type {NodeListOf<HTMLLIElement>} */ ($('group').querySelectorAll('ul.members li'));
  if (items.length === 0) return;
  const statuses = new Map(state.players.map((player) => [player.userId, player.status ?? 'online']));
  const complete = state.playersLoaded && !state.prefix && state.page === 0 && state.nextCursor === undefined;
  for (const item of items) {
    const status = statuses.get(item.dataset.userId ?? '') ?? (complete ? 'offline' : '');
    const badge = item.querySelector('.status');
    if (!(badge instanceof HTMLElement) || item.dataset.status === status) continue;
    item.dataset.status = status;
    badge.className = status ? `status ${status}` : 'status';
    badge.textContent = status;
    badge.hidden = !status;
  }
}

/**
 * The group's newest messages, GROUP_MESSAGES of them. A gateway whose HISTORY_PAGE_MAX is under
 * that refuses the limit (400): its default page, HISTORY_PAGE_MAX messages, is then the answer.
 * @param {string} groupId
 * @returns {Promise<Answer>}
 */
async function recentMessages(groupId) {
  const path = `/api/conversations/${encodeURIComponent(`group:${groupId}`)}/messages`;
  const answer = await api(`${path}?limit=${GROUP_MESSAGES}`);
  return answer.status === 400 ? api(path) : answer;
}

/**
 * @param {string} groupId
 * @param {Answer} answer of GET /api/conversations/group:<groupId>/messages
 */
function renderMessages(groupId, answer) {
  const section = el('div', undefined, 'group-messages');
  const title = el('h3', 'Recent messages');
  section.append(title);
  /** @param {string} name @param {HTMLElement} node */
  const done = (name, node) => {
    section.dataset.state = name;
    section.append(node);
    return section;
  };
  if (answer.status === 503) return done('unavailable', el('p', unavailable('its messages'), 'error'));
  if (answer.status !== 200) return done('error', el('p', `Its messages could not be loaded (${failure(answer)}).`, 'error'));
  const page = /** @type {HistoryPage} */ (answer.body);
  const shown = page.messages.slice(-GROUP_MESSAGES);
  if (shown.length === 0) return done('empty', el('p', `No message is stored in group:${groupId}.`, 'muted'));
  const older = page.hasMore || page.messages.length > shown.length;
  title.append(el('span', ` · the ${shown.length} most recent, oldest first${older ? ' (older ones are stored)' : ''}`, 'muted small'));
  const table = el('table', undefined, 'messages');
  const thead = el('thead');
  const head = el('tr');
  head.append(el('th', 'Seq'), el('th', 'Time'), el('th', 'From'), el('th', 'Content'));
  thead.append(head);
  const tbody = el('tbody');
  for (const message of shown) {
    const tr = el('tr');
    tr.dataset.seq = String(message.seq);
    const time = el('td', stamp(message.ts), 'time');
    time.title = new Date(message.ts).toISOString();
    const from = message.from === undefined ? el('td', 'server', 'from muted') : el('td', message.from, 'from');
    const text = contentText(message.content);
    const content = el('td', truncate(text, CONTENT_SHOWN), 'content');
    if (content.textContent !== text) content.title = truncate(text, CONTENT_TOOLTIP);
    tr.append(el('td', String(message.seq), 'seq num'), time, from, content);
    tbody.append(tr);
  }
  table.append(thead, tbody);
  return done('messages', table);
}

/**
 * @param {string} groupId
 * @param {Answer} group of GET /api/groups/:groupId
 * @param {Answer} messages of GET /api/conversations/group:<groupId>/messages
 */
function renderGroup(groupId, group, messages) {
  if (group.status === 404) return groupState('not-found', el('p', `No group "${groupId}" (GET /api/groups answered 404).`, 'muted'));
  if (group.status === 503) return groupState('unavailable', el('p', unavailable('the group'), 'error'));
  if (group.status !== 200) return groupState('error', el('p', `The group could not be loaded (${failure(group)}).`, 'error'));
  const body = /** @type {Group} */ (group.body);
  const head = el('div', undefined, 'group-head');
  const created = el('span', `created ${stamp(body.createdAt)}`, 'muted');
  created.title = new Date(body.createdAt).toISOString();
  head.append(el('span', body.name, 'group-name'), el('code', body.id, 'group-id'), created);

  const members = el('div', undefined, 'group-members');
  members.append(el('h3', `Members (${num(body.members.length)})`));
  if (body.members.length === 0) members.append(el('p', 'No member.', 'muted'));
  else {
    const list = el('ul', undefined, 'members');
    for (const userId of body.members.slice(0, GROUP_MEMBERS_SHOWN)) {
      const item = el('li');
      item.dataset.userId = userId;
      const badge = el('span', '', 'status');
      badge.hidden = true;
      item.append(el('span', userId, 'member-id'), badge);
      list.append(item);
    }
    members.append(list);
    if (body.members.length > GROUP_MEMBERS_SHOWN) {
      members.append(el('p', `The first ${num(GROUP_MEMBERS_SHOWN)} of ${num(body.members.length)} members, in userId order.`, 'muted small'));
    }
  }
  groupState('group', head, members, renderMessages(groupId, messages));
  markMembers();
}

/** Shows the group whose id the input holds: the group, then its recent messages. */
async function showGroup() {
  const groupId = $('group-input').value.trim();
  const view = ++state.groupView;
  const error = $('group-error');
  const valid = ID_PATTERN.test(groupId);
  error.hidden = valid;
  error.textContent = valid ? '' : groupId ? 'A group id has 1 to 64 letters, digits and _ . : - only: no group has this one.' : 'Type a group id.';
  if (!valid) return groupState('invalid');
  groupState('loading', el('p', `Loading group ${groupId}…`, 'muted'));
  try {
    const [group, messages] = await Promise.all([api(`/api/groups/${encodeURIComponent(groupId)}`), recentMessages(groupId)]);
    if (view === state.groupView) renderGroup(groupId, group, messages);
  } catch (failed) {
    if (failed instanceof Unauthorized) return signOut('The admin token was refused. Sign in again.');
    if (view === state.groupView) groupState('error', el('p', `The group could not be loaded (${/** @type {Error} */ (failed).message}).`, 'error'));
  }
}

/**
 * Lists a player's groups (clicked userId in the players table) above the group, each a link
 * that shows it.
 * @param {string} userId
 */
async function showUserGroups(userId) {
  const box = $('user-groups');
  const view = ++state.userGroupsView;
  box.hidden = false;
  box.dataset.userId = userId;
  box.dataset.state = 'loading';
  box.replaceChildren(el('p', `Groups of ${userId}: loading…`, 'muted'));
  $('groups-panel').scrollIntoView({ block: 'nearest' });
  /** @type {Answer} */
  let answer;
  try {
    answer = await api(`/api/users/${encodeURIComponent(userId)}/groups`);
  } catch (failed) {
    if (failed instanceof Unauthorized) return signOut('The admin token was refused. Sign in again.');
    answer = { status: 0, body: { message: /** @type {Error} */ (failed).message } };
  }
  if (view !== state.userGroupsView) return;
  const line = el('p');
  line.append(el('span', `Groups of ${userId}: `, 'muted'));
  if (answer.status === 200) {
    const groups = /** @type {UserGroups} */ (answer.body).groups;
    box.dataset.state = groups.length === 0 ? 'empty' : 'groups';
    if (groups.length === 0) line.append(el('span', 'none.', 'muted'));
    for (const groupId of groups) {
      const link = el('button', groupId, 'link group-link');
      link.type = 'button';
      link.dataset.groupId = groupId;
      link.title = `Show group ${groupId}`;
      line.append(link, ' ');
    }
  } else {
    box.dataset.state = answer.status === 503 ? 'unavailable' : 'error';
    line.append(el('span', answer.status === 503 ? unavailable('their groups') : `They could not be loaded (${failure(answer)}).`, 'error'));
  }
  box.replaceChildren(line);
}

/* ------------------------------------------------------------------ data */

/**
 * One page of players from the server: with a search prefix the gateway walks only the matching
 * range of its userId index, so a player on any page is found (and paged) like the full list.
 * @returns {Promise<void>}
 */
async function loadPlayers() {
  const { view, prefix, page } = state;
  const cursor = state.cursors[page];
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor) query.set('cursor', cursor);
  if (prefix) query.set('prefix', prefix);
  // With a prefix `total` counts the matches; the cluster-wide card needs its own count.
  // A prefix outside the userId characters matches nobody: no need to ask (the API would say 400).
  const valid = PREFIX_PATTERN.test(prefix);
  const [answer, all] = await Promise.all([
    valid ? api(`/api/online/players?${query}`) : { status: 200, body: { players: [], total: 0 } },
    prefix ? api('/api/online/players?limit=1') : null,
  ]);
  if (view !== state.view) return; // the search or the page changed meanwhile: a newer load follows
  if (answer.status === 400 && /** @type {ErrorBody | null} */ (answer.body)?.code === 'GW_INVALID_CURSOR') {
    // the page vanished under us (e.g. a node restart): back to the first page
    state.page = 0;
    state.cursors = [undefined];
    state.view++;
    return loadPlayers();
  }
  if (answer.status !== 200) throw new Error(`players: HTTP ${answer.status}`);
  const body = /** @type {OnlinePlayersPage} */ (answer.body);
  state.players = body.players;
  state.playersLoaded = true;
  state.nextCursor = body.nextCursor;
  const total = body.total;
  if (!prefix) $('stat-online').textContent = num(total);
  else if (all?.status === 200) $('stat-online').textContent = num(/** @type {OnlinePlayersPage} */ (all.body).total);
  const first = page * PAGE_SIZE;
  const range = `${num(first + 1)}–${num(first + state.players.length)}`;
  $('page-info').textContent =
    total === 0 ? '' : prefix ? `page ${page + 1} · matches ${range} of ${num(total)}` : `page ${page + 1} · players ${range} of ${num(total)}`;
  renderPlayers();
}

/** Applies what the search box holds: back to the first page of the new result. */
function search() {
  clearTimeout(state.searchTimer);
  state.searchTimer = undefined;
  const prefix = $('search').value.trim();
  const error = $('search-error');
  error.hidden = PREFIX_PATTERN.test(prefix);
  error.textContent = error.hidden ? '' : 'A userId has only letters, digits and _ . : - (at most 64): no player can match.';
  if (prefix === state.prefix) return;
  state.prefix = prefix;
  state.page = 0;
  state.cursors = [undefined];
  state.nextCursor = undefined;
  state.view++;
  void refresh();
}

async function refresh() {
  if (!state.token) return;
  if (state.refreshing) {
    state.again = true; // e.g. a page change during a refresh: run once more right after
    return;
  }
  state.refreshing = true;
  state.again = false;
  try {
    const [stats, nodes, history, rooms] = await Promise.all([
      api('/ws/stats'),
      api('/api/nodes'),
      api('/api/stats/history'),
      api('/api/rooms?limit=50'),
      loadPlayers(),
    ]);
    if (stats.status === 200) renderStats(/** @type {WsStats} */ (stats.body));
    if (nodes.status === 200) renderNodes(/** @type {NodesList} */ (nodes.body));
    if (history.status === 200) renderChart(/** @type {StatsHistory} */ (history.body));
    renderRooms(rooms);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error instanceof Unauthorized) {
      signOut('The admin token was refused. Sign in again.');
      return;
    }
    $('updated').textContent = `refresh failed: ${/** @type {Error} */ (error).message}`;
  } finally {
    state.refreshing = false;
    if (state.again && state.token) void refresh();
  }
}

/** @param {string} userId */
async function logout(userId) {
  if (!confirm(`Log out ${userId}? Their connections close with 4002 and the logout is recorded.`)) return;
  try {
    const answer = await api('/api/online/logout', { method: 'POST', body: { userId } });
    if (answer.status === 200) {
      toast(/** @type {LogoutResult} */ (answer.body).loggedOut ? `${userId} logged out` : `${userId} was not online`);
    } else {
      toast(`Logout of ${userId} failed: ${/** @type {ErrorBody | null} */ (answer.body)?.message ?? `HTTP ${answer.status}`}`);
    }
  } catch (error) {
    if (error instanceof Unauthorized) return signOut('The admin token was refused. Sign in again.');
    toast(`Logout of ${userId} failed: ${/** @type {Error} */ (error).message}`);
  }
  await refresh();
}

/* ------------------------------------------------------------------ wiring */

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  state.token = token;
  try {
    const answer = await api('/ws/stats');
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}`);
  } catch (error) {
    state.token = null;
    $('login-error').textContent =
      error instanceof Unauthorized ? 'This token is not the admin token.' : `The gateway did not answer (${/** @type {Error} */ (error).message}).`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  $('login-error').textContent = '';
  showDashboard();
});

$('sign-out').addEventListener('click', () => signOut());
$('search').addEventListener('input', () => {
  clearTimeout(state.searchTimer);
  state.searchTimer = setTimeout(search, SEARCH_DEBOUNCE_MS);
});
$('search').addEventListener('keydown', (event) => {
  if (event.key === 'Enter') search(); // no need to wait for the pause
});
$('players-table').addEventListener('click', (event) => {
  const button = /** @type {HTMLButtonElement | null} */ (/** @type {Element} */ (event.target).closest('button.logout, button.user-groups'));
  if (!button) return;
  const userId = /** @type {string} */ (button.dataset.userId);
  void (button.classList.contains('logout') ? logout(userId) : showUserGroups(userId));
});
$('group-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void showGroup();
});
$('user-groups').addEventListener('click', (event) => {
  const link = /** @type {HTMLButtonElement | null} */ (/** @type {Element} */ (event.target).closest('button.group-link'));
  if (!link) return;
  $('group-input').value = /** @type {string} */ (link.dataset.groupId);
  void showGroup();
});
$('next-page').addEventListener('click', () => {
  if (state.nextCursor === undefined) return;
  state.cursors[state.page + 1] = state.nextCursor;
  state.page++;
  state.view++;
  void refresh();
});
$('prev-page').addEventListener('click', () => {
  if (state.page === 0) return;
  state.page--;
  state.view++;
  void refresh();
});

if (state.token) showDashboard();
else showLogin();

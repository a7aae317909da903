'use strict';

/**
 * The mini-program side of this backend: wx.login, the session token in storage, one silent
 * re-login when the session dies, the getPhoneNumber button, and errors with a reason to branch on.
 * Plain ES2017 CommonJS for the mini-program runtime: no Node APIs, no fetch, no dependencies.
 * Server replies are `{ code: 1, data, message }` or `{ code: 0, data: { error: REASON }, message }`
 * (the backend's README, "API").
 */

const DEFAULT_STORAGE_KEY = 'backend.session';
const DEFAULT_TIMEOUT_MS = 10000;

/** Reasons this module gives itself; the server's are the backend's `data.error` values. */
const CLIENT_REASONS = Object.freeze({
  /** wx.request failed before a reply arrived (no network, DNS, TLS, domain not whitelisted) */
  NETWORK_ERROR: 'NETWORK_ERROR',
  /** no reply within timeoutMs */
  TIMEOUT: 'TIMEOUT',
  /** a reply that is not the backend's JSON shape (a proxy's error page, a non-JSON body) */
  BAD_REPLY: 'BAD_REPLY',
  /** wx.login failed */
  WX_LOGIN_FAILED: 'WX_LOGIN_FAILED',
  /** the user refused (getPhoneNumber / getUserInfo `fail user deny`, or cancelled) */
  USER_DENIED: 'USER_DENIED',
  /** a button's or wx API's detail reported another failure (e.g. `getPhoneNumber:fail no permission`) */
  WX_API_FAILED: 'WX_API_FAILED',
});

class BackendError extends Error {
  /**
   * @param {string} reason the server's `data.error`, or one of CLIENT_REASONS
   * @param {string} message
   * @param {object} [extra] `reply` (the server's whole reply), `statusCode`, `errMsg` (WeChat's)
   */
  constructor(reason, message, extra) {
    super(message);
    this.name = 'BackendError';
    this.reason = reason;
    this.reply = (extra && extra.reply) || null;
    this.statusCode = extra && typeof extra.statusCode === 'number' ? extra.statusCode : null;
    this.errMsg = (extra && extra.errMsg) || null;
  }
}

function isReply(body) {
  return body !== null && typeof body === 'object' && (body.code === 0 || body.code === 1) && 'data' in body;
}

/** The failure a button's or wx API's `detail` reports, or null when it succeeded. */
function refusalOf(detail, what) {
  if (detail === null || typeof detail !== 'object') {
    return new BackendError(CLIENT_REASONS.WX_API_FAILED, `${what}: expected the event's detail object`);
  }
  const errMsg = typeof detail.errMsg === 'string' ? detail.errMsg : '';
  if (errMsg === '' || /:ok$/.test(errMsg)) return null;
  // 'getPhoneNumber:fail user deny', 'getPhoneNumber:fail:user deny', 'getUserInfo:fail auth deny', '…:fail cancel'
  const denied = /deny|cancel/i.test(errMsg);
  return new BackendError(
    denied ? CLIENT_REASONS.USER_DENIED : CLIENT_REASONS.WX_API_FAILED,
    denied ? `${what}: the user refused` : `${what} failed: ${errMsg}`,
    { errMsg });
}

/**
 * @param {{ baseUrl: string, storageKey?: string, timeoutMs?: number, wx?: object }} options
 */
function createBackend(options) {
  const opts = options || {};
  if (typeof opts.baseUrl !== 'string' || !/^https?:\/\//.test(opts.baseUrl)) {
    throw new TypeError('createBackend: baseUrl must be an http(s) URL');
  }
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const storageKey = opts.storageKey || DEFAULT_STORAGE_KEY;
  const timeoutMs = opts.timeoutMs > 0 ? opts.timeoutMs : DEFAULT_TIMEOUT_MS;
  const wxApi = opts.wx || (typeof wx === 'object' ? wx : null);
  if (!wxApi) throw new TypeError('createBackend: no wx object (outside a mini-program, pass options.wx)');

  /** The login in flight, shared by every caller until it settles. */
  let loginInFlight = null;

  function storedToken() {
    const token = wxApi.getStorageSync(storageKey);
    return typeof token === 'string' ? token : '';
  }

  /** One HTTP exchange; resolves with the backend's reply object, rejects with a client reason. */
  function send(method, path, body, token) {
    return new Promise((resolve, reject) => {
      let settled = false;
      let timer = null;
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn(value);
      };
      const header = { 'content-type': 'application/json' };
      if (token) header.Authorization = `Bearer ${token}`;
      const task = wxApi.request({
        url: baseUrl + path,
        method,
        data: body,
        header,
        dataType: 'json',
        timeout: timeoutMs,
        success(res) {
          // wx.request calls success for any HTTP status; the backend answers its errors with 200.
          if (isReply(res.data)) return settle(resolve, res.data);
          settle(reject, new BackendError(CLIENT_REASONS.BAD_REPLY,
            `${method} ${path}: not a backend reply (HTTP ${res.statusCode})`, { statusCode: res.statusCode }));
        },
        fail(err) {
          const errMsg = (err && err.errMsg) || 'request:fail';
          const timedOut = /timeout|timed out/i.test(errMsg);
          settle(reject, new BackendError(timedOut ? CLIENT_REASONS.TIMEOUT : CLIENT_REASONS.NETWORK_ERROR,
            `${method} ${path}: ${timedOut ? `no reply within ${timeoutMs} ms` : errMsg}`, { errMsg }));
        },
      });
      // Our own deadline too: `timeout` needs base library 2.10.0, and a stuck request must not hang a page.
      if (settled) return;
      timer = setTimeout(() => {
        settle(reject, new BackendError(CLIENT_REASONS.TIMEOUT, `${method} ${path}: no reply within ${timeoutMs} ms`));
        if (task && typeof task.abort === 'function') task.abort();
      }, timeoutMs);
    });
  }

  function unwrap(reply) {
    if (reply.code === 1) return reply.data;
    const reason = reply.data && typeof reply.data.error === 'string' ? reply.data.error : CLIENT_REASONS.BAD_REPLY;
    throw new BackendError(reason, typeof reply.message === 'string' ? reply.message : reason, { reply, statusCode: 200 });
  }

  function wxLogin() {
    return new Promise((resolve, reject) => {
      wxApi.login({
        timeout: timeoutMs,
        success(res) {
          if (res && typeof res.code === 'string' && res.code !== '') return resolve(res.code);
          reject(new BackendError(CLIENT_REASONS.WX_LOGIN_FAILED, 'wx.login gave no code', { errMsg: res && res.errMsg }));
        },
        fail(err) {
          const errMsg = (err && err.errMsg) || 'login:fail';
          reject(new BackendError(CLIENT_REASONS.WX_LOGIN_FAILED, `wx.login failed: ${errMsg}`, { errMsg }));
        },
      });
    });
  }

  /** wx.login, then POST /api/login; stores the token. Concurrent callers share one login. */
  function login() {
    if (!loginInFlight) {
      loginInFlight = (async () => {
        try {
          const code = await wxLogin();
          const data = unwrap(await send('POST', '/api/login', { code }, ''));
          wxApi.setStorageSync(storageKey, data.token);
          return data;
        } finally {
          loginInFlight = null;
        }
      })();
    }
    return loginInFlight;
  }

  /**
   * A token other than `rejected`: the one another caller's re-login already stored, or a new login.
   * So requests that all failed with the same dead token make one login between them.
   */
  async function freshToken(rejected) {
    if (loginInFlight) return (await loginInFlight).token;
    const current = storedToken();
    if (current && current !== rejected) return current;
    return (await login()).token;
  }

  /**
   * A request with the session token. UNAUTHORIZED (no, unknown or expired session) logs in again
   * once and repeats the request once: the auth check runs before any route, so the first attempt
   * did nothing. A second UNAUTHORIZED rejects.
   */
  async function request(method, path, body) {
    let token = storedToken() || await freshToken('');
    let reply = await send(method, path, body, token);
    if (reply.code === 0 && reply.data && reply.data.error === 'UNAUTHORIZED') {
      token = await freshToken(token);
      reply = await send(method, path, body, token);
    }
    return unwrap(reply);
  }

  return {
    login,
    request,
    /** Forgets the stored token (the next request logs in again). */
    logout() {
      wxApi.removeStorageSync(storageKey);
    },
    /** The stored session token, or '' */
    token: storedToken,

    /** GET /api/user */
    getUser() {
      return request('GET', '/api/user');
    },

    /**
     * POST /api/phone from the getPhoneNumber button's `e.detail`: its `code` (base library
     * 2.21.2+), else its `encryptedData` and `iv`. A refusal rejects with USER_DENIED, no request.
     */
    bindPhone(detail) {
      const refusal = refusalOf(detail, 'getPhoneNumber');
      if (refusal) return Promise.reject(refusal);
      const body = typeof detail.code === 'string' && detail.code !== ''
        ? { code: detail.code }
        : { encryptedData: detail.encryptedData, iv: detail.iv };
      return request('POST', '/api/phone', body);
    },

    /** POST /api/unionid from wx.getUserInfo's result (or the button's `e.detail`): `encryptedData` and `iv`. */
    bindUnionId(detail) {
      const refusal = refusalOf(detail, 'getUserInfo');
      if (refusal) return Promise.reject(refusal);
      return request('POST', '/api/unionid', { encryptedData: detail.encryptedData, iv: detail.iv });
    },

    /** GET /api/subscription: true when the user follows the official account. */
    async isFollowingOfficialAccount() {
      return (await request('GET', '/api/subscription')).subscribed === true;
    },

    /** POST /api/security/text; scene: 'profile' | 'comment' | 'forum' | 'social_log' */
    checkText(content, scene) {
      return request('POST', '/api/security/text', { content, scene });
    },

    /** POST /api/security/media; mediaType: 'image' | 'audio'. The verdict comes later: getMediaCheck. */
    checkMedia(mediaUrl, mediaType, scene) {
      const body = { mediaUrl, mediaType };
      if (scene !== undefined) body.scene = scene;
      return request('POST', '/api/security/media', body);
    },

    /** GET /api/subscriptions/messages: the user's subscribe-message grants, one per template. */
    async getSubscriptionGrants() {
      return (await request('GET', '/api/subscriptions/messages')).grants;
    },

    /** GET /api/security/media/:traceId */
    getMediaCheck(traceId) {
      return request('GET', `/api/security/media/${encodeURIComponent(String(traceId))}`);
    },
  };
}

module.exports = { createBackend, BackendError, CLIENT_REASONS };

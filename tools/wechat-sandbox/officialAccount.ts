/**
 * The official account's followers: who follows (a generated population 'follower-<i>', all
 * subscribed at start, and any user who subscribes later), and the user APIs that list them:
 * /cgi-bin/user/get (获取用户列表), /cgi-bin/user/info (获取用户基本信息) and
 * /cgi-bin/user/info/batchget (批量获取用户基本信息).
 */
import { wxError } from './errors';
import { EndpointRequest, Reply } from './http';
import { followerIndex, followerKey, userKeyOfOpenid } from './identity';
import type { SandboxState, SandboxUserInfo } from './state';
import { authorize, authorizedJsonPost } from './tokens';

/** 获取用户列表: "一次拉取调用最多拉取10000个关注者的OpenID". */
const PAGE_SIZE = 10_000;
/** 批量获取用户基本信息: "最多支持一次拉取100条" (40032 otherwise). */
const BATCHGET_MAX = 100;
/** subscribe_time of generated follower i: 2021-01-01 + i minutes */
const POPULATION_EPOCH = 1609430400;

/** Number of current followers. */
export function followerCount(state: SandboxState): number {
  return state.followerPopulation - state.unsubscribedPopulation + state.namedSubscribed;
}

/** Makes a user (user key or OA openid) follow or unfollow the official account. */
export function setFollower(state: SandboxState, user: string, subscribed: boolean): SandboxUserInfo {
  const userKey = state.userKeyOrOpenid(user, 'officialAccount');
  if (state.isFollower(userKey) !== subscribed) {
    const inPopulation = state.inPopulation(userKey);
    if (inPopulation) state.unsubscribedPopulation += subscribed ? -1 : 1;
    else state.namedSubscribed += subscribed ? 1 : -1;
    if (!inPopulation && !state.followerOverrides.has(userKey)) state.namedFollowerOrder.push(userKey);
    state.followerOverrides.set(userKey, { subscribed, subscribeTime: Math.floor(state.now() / 1000) });
  }
  return state.describe(state.userRecord(userKey));
}

function subscribeTime(state: SandboxState, userKey: string): number {
  const o = state.followerOverrides.get(userKey);
  if (o) return o.subscribeTime;
  return POPULATION_EPOCH + followerIndex(userKey) * 60;
}

/** 获取用户基本信息: a follower's fields; a known non-follower gets { subscribe: 0, openid }. */
function followerInfo(state: SandboxState, userKey: string): Record<string, unknown> {
  const openid = state.openid(userKey, 'officialAccount');
  if (!state.isFollower(userKey)) return { subscribe: 0, openid };
  const info: Record<string, unknown> = {
    subscribe: 1,
    openid,
    language: 'zh_CN',
    subscribe_time: subscribeTime(state, userKey),
  };
  // UnionID 机制说明: unionid only when the account is bound to an Open Platform account.
  if (state.officialAccount.openPlatformBound) info.unionid = state.unionid(userKey);
  Object.assign(info, { remark: '', groupid: 0, tagid_list: [], subscribe_scene: 'ADD_SCENE_QR_CODE', qr_scene: 0, qr_scene_str: '' });
  return info;
}

export function officialAccountEndpoints(state: SandboxState) {
  return {
    '/cgi-bin/user/get': ({ url }: EndpointRequest): Reply => {
      const acc = authorize(state, url, 'officialAccount');
      if (!('kind' in acc)) return acc;
      const next = url.searchParams.get('next_openid') ?? '';
      // Position in the listing order: generated followers by index, then other users in subscribe order.
      let start = 0;
      if (next !== '') {
        const userKey = userKeyOfOpenid(acc.appid, next, state.seed);
        if (userKey === null) return { body: wxError(40003) };
        const i = followerIndex(userKey);
        if (i >= 0 && i < state.followerPopulation) start = i + 1;
        else {
          const j = state.namedFollowerOrder.indexOf(userKey);
          if (j < 0) return { body: wxError(40003) };
          start = state.followerPopulation + j + 1;
        }
      }
      const openids: string[] = [];
      let last = '';
      const total = state.followerPopulation + state.namedFollowerOrder.length;
      for (let pos = start; pos < total && openids.length < PAGE_SIZE; pos++) {
        const userKey = pos < state.followerPopulation ? followerKey(pos) : state.namedFollowerOrder[pos - state.followerPopulation];
        if (!state.isFollower(userKey)) continue;
        last = state.openid(userKey, 'officialAccount');
        openids.push(last);
      }
      // 获取用户列表: nothing left to list is { total, count: 0, next_openid: '' }, with no `data`.
      if (openids.length === 0) return { body: { total: followerCount(state), count: 0, next_openid: '' } };
      return { body: { total: followerCount(state), count: openids.length, data: { openid: openids }, next_openid: last } };
    },
    '/cgi-bin/user/info': ({ url }: EndpointRequest): Reply => {
      const acc = authorize(state, url, 'officialAccount');
      if (!('kind' in acc)) return acc;
      const openid = url.searchParams.get('openid');
      if (!openid) return { body: wxError(41009) };
      const userKey = userKeyOfOpenid(acc.appid, openid, state.seed);
      if (userKey === null || !state.knownToOfficialAccount(userKey)) return { body: wxError(40003) };
      return { body: followerInfo(state, userKey) };
    },
    '/cgi-bin/user/info/batchget': (req: EndpointRequest): Reply => {
      const checked = authorizedJsonPost(state, req, 'officialAccount');
      if (!('acc' in checked)) return checked;
      const { acc, body } = checked;
      if (!Array.isArray(body.user_list)) return { body: wxError(47001) };
      if (body.user_list.length === 0 || body.user_list.length > BATCHGET_MAX) return { body: wxError(40032) };
      const list: Record<string, unknown>[] = [];
      for (const item of body.user_list) {
        const openid = item && typeof item === 'object' ? item.openid : undefined;
        const userKey = typeof openid === 'string' ? userKeyOfOpenid(acc.appid, openid, state.seed) : null;
        if (userKey === null || !state.knownToOfficialAccount(userKey)) return { body: wxError(40003) };
        list.push(followerInfo(state, userKey));
      }
      return { body: { user_info_list: list } };
    },
  };
}

/**
 * Subscribe messages of the sandbox (订阅消息): each account's templates (getTemplateList), what
 * each user allows (played by the simulator: the popup of wx.requestSubscribeMessage and the
 * settings page), and `/cgi-bin/message/subscribe/send` refusing what WeChat refuses.
 *
 * Sources, per rule:
 * - getTemplateList (获取个人模板列表, GET /wxaapi/newtmpl/gettemplate): `data` of
 *   { priTmplId, title, content ("{{thing1.DATA}}"...), example, type: 2 one-time | 3 long-term }.
 * - subscribeMessage.send (发送订阅消息): 40003 touser empty or wrong, 40037 template_id empty or
 *   wrong, 43101 the user refused the message (no subscription), 47003 template data not matching
 *   its rules ("errmsg会提示具体是哪个字段出错": "argument invalid! data.thing1.value ..."),
 *   miniprogram_state developer | trial | formal (default formal), lang zh_CN | en_US | zh_HK | zh_TW.
 * - 订阅消息参数值内容限制说明 (the same page): the value rules of each field type.
 * - wx.requestSubscribeMessage: at most 3 template ids per popup; one-time and long-term ids are
 *   not mixed in one call; each accept of a one-time template allows one send (一次性订阅消息:
 *   "用户自主订阅后，开发者可不限时间地下发一条对应的服务消息").
 * - 订阅消息事件推送 (subscribe-message.html): popup entries { TemplateId, SubscribeStatusString,
 *   PopupScene }, change entries { TemplateId, SubscribeStatusString }, sent entries
 *   { TemplateId, MsgID, ErrorCode, ErrorStatus }.
 */
import { createHash, randomBytes } from 'node:crypto';
import { checkTemplateValue, parseTemplateFields } from '../../app/lib/subscribeMessages';
import { wxError } from './errors';
import { EndpointRequest, Reply } from './http';
import { userKeyOfOpenid } from './identity';
import type { SandboxState } from './state';
import { authorize, authorizedJsonPost } from './tokens';

export interface SandboxTemplate {
  priTmplId: string;
  title: string;
  content: string;
  example: string;
  /** 2 one-time, 3 long-term */
  type: 2 | 3;
  keywordEnumValueList?: Array<{ keywordCode: string; enumValueList: string[] }>;
}

export type TemplateSpec = Omit<SandboxTemplate, 'priTmplId'> & { priTmplId?: string };

export interface SubscribeSent {
  appid: string;
  touser: string;
  template_id: string;
  page?: string;
  data: Record<string, { value: string }>;
  miniprogram_state: string;
  lang: string;
  /** WeChat's id of the delivered message (the sent event's MsgID) */
  msgId: string;
  /** Sandbox clock, ms */
  at: number;
}

export type SubscribeChoice = 'accept' | 'reject';

/** A popup's or settings change's List entries, as pushed. */
export type SubscribeEntry = Record<string, string | number>;

export type SubscribeSendResult = { errcode: 0; msgid: string } | { errcode: number; errmsg?: string };

export const MINIPROGRAM_STATES = [ 'developer', 'trial', 'formal' ];
export const SUBSCRIBE_LANGS = [ 'zh_CN', 'en_US', 'zh_HK', 'zh_TW' ];
/** wx.requestSubscribeMessage: "一次调用最多可订阅3条消息" */
export const POPUP_MAX_TEMPLATES = 3;

export class SubscribeInputError extends Error {}

/** A template id like WeChat's (43 characters of base64url), derived from the appid and a name. */
export function templateIdFor(appid: string, name: string): string {
  return createHash('sha256').update(`${appid}\n${name}`).digest('base64url')
    .slice(0, 43);
}

/** The templates every sandbox mini-program starts with. */
export function defaultTemplates(appid: string): SandboxTemplate[] {
  return [
    {
      priTmplId: templateIdFor(appid, 'order-shipped'),
      title: '订单发货通知',
      content: '订单号:{{character_string1.DATA}}\n商品名称:{{thing2.DATA}}\n发货时间:{{time3.DATA}}\n',
      example: '订单号:SO20191001\n商品名称:保温杯\n发货时间:2019年10月1日 15:01\n',
      type: 2,
    },
    {
      priTmplId: templateIdFor(appid, 'booking-reminder'),
      title: '预约提醒',
      content: '预约项目:{{thing1.DATA}}\n预约时间:{{date2.DATA}}\n人数:{{number3.DATA}}\n',
      example: '预约项目:洗车\n预约时间:2019年10月1日\n人数:2\n',
      type: 2,
    },
    {
      priTmplId: templateIdFor(appid, 'service-status'),
      title: '服务状态通知',
      content: '服务状态:{{phrase1.DATA}}\n备注:{{thing2.DATA}}\n',
      example: '服务状态:已恢复\n备注:感谢您的耐心等待\n',
      type: 3,
    },
  ];
}

interface Grant {
  oneTime: number;
  longTerm: boolean;
}

export class SubscribeStore {
  private readonly templatesByAppid = new Map<string, Map<string, SandboxTemplate>>();
  private readonly grants = new Map<string, Grant>();
  private readonly sentMessages: SubscribeSent[] = [];
  private readonly stateCounts = new Map<string, number>();

  constructor(private readonly now: () => number, private readonly initialAppids: string[]) {
    this.reset();
  }

  reset(): void {
    this.templatesByAppid.clear();
    for (const appid of this.initialAppids) this.templatesByAppid.set(appid, new Map(defaultTemplates(appid).map(t => [ t.priTmplId, t ])));
    this.grants.clear();
    this.sentMessages.length = 0;
    this.stateCounts.clear();
  }

  templates(appid: string): SandboxTemplate[] {
    return [ ...(this.templatesByAppid.get(appid)?.values() ?? []) ].map(t => JSON.parse(JSON.stringify(t)));
  }

  /** Adds or replaces a template of an account (as an operator would in the console). */
  setTemplate(appid: string, spec: TemplateSpec): SandboxTemplate {
    if (!spec || typeof spec.title !== 'string' || typeof spec.content !== 'string' || parseTemplateFields(spec.content).length === 0) {
      throw new SubscribeInputError('a template needs a title and a content with fields such as {{thing1.DATA}}');
    }
    if (spec.type !== 2 && spec.type !== 3) throw new SubscribeInputError('template type must be 2 (one-time) or 3 (long-term)');
    const template: SandboxTemplate = {
      priTmplId: spec.priTmplId ?? templateIdFor(appid, `${spec.title}\n${spec.content}`),
      title: spec.title,
      content: spec.content,
      example: spec.example ?? '',
      type: spec.type,
      ...(spec.keywordEnumValueList ? { keywordEnumValueList: spec.keywordEnumValueList } : {}),
    };
    const map = this.templatesByAppid.get(appid) ?? new Map();
    map.set(template.priTmplId, template);
    this.templatesByAppid.set(appid, map);
    return template;
  }

  removeTemplate(appid: string, templateId: string): boolean {
    return this.templatesByAppid.get(appid)?.delete(templateId) ?? false;
  }

  private grant(appid: string, openid: string, templateId: string): Grant {
    const key = `${appid}|${openid}|${templateId}`;
    let g = this.grants.get(key);
    if (!g) {
      g = { oneTime: 0, longTerm: false };
      this.grants.set(key, g);
    }
    return g;
  }

  /** What a user allows for a template: one-time sends left, long-term subscription on. */
  grantOf(appid: string, openid: string, templateId: string): Grant {
    return { ...this.grant(appid, openid, templateId) };
  }

  /**
   * The user answers the subscribe popup (wx.requestSubscribeMessage): at most 3 templates, all
   * one-time or all long-term. Returns the popup event's List entries.
   */
  popup(appid: string, openid: string, choices: Record<string, SubscribeChoice>): SubscribeEntry[] {
    const ids = Object.keys(choices ?? {});
    // wx.requestSubscribeMessage: tmplIds "一次调用最多可订阅3条消息"; "一次性模板 id 和永久模板 id 不可同时使用"
    if (ids.length === 0 || ids.length > POPUP_MAX_TEMPLATES) throw new SubscribeInputError(`a popup offers 1 to ${POPUP_MAX_TEMPLATES} templates`);
    const templates = ids.map(id => this.templatesByAppid.get(appid)?.get(id));
    if (templates.some(t => !t)) throw new SubscribeInputError('a popup can only offer templates of this account');
    if (new Set(templates.map(t => t!.type)).size > 1) throw new SubscribeInputError('one-time and long-term templates are not offered in one popup');
    return ids.map((id, i) => {
      const choice = choices[id];
      if (choice !== 'accept' && choice !== 'reject') throw new SubscribeInputError('each choice is accept or reject');
      const g = this.grant(appid, openid, id);
      if (choice === 'accept') {
        if (templates[i]!.type === 2) g.oneTime += 1;
        else g.longTerm = true;
      } else if (templates[i]!.type === 3) {
        g.longTerm = false;
      }
      return { TemplateId: id, SubscribeStatusString: choice, PopupScene: '0' };
    });
  }

  /** The user switches a template on or off in the mini-program's settings. Returns the change event's entries. */
  change(appid: string, openid: string, templateId: string, choice: SubscribeChoice): SubscribeEntry[] {
    if (!this.templatesByAppid.get(appid)?.has(templateId)) throw new SubscribeInputError('no such template');
    if (choice !== 'accept' && choice !== 'reject') throw new SubscribeInputError('choice is accept or reject');
    const g = this.grant(appid, openid, templateId);
    if (choice === 'reject') {
      g.oneTime = 0;
      g.longTerm = false;
    } else if (this.templatesByAppid.get(appid)!.get(templateId)!.type === 3) {
      g.longTerm = true;
    }
    return [{ TemplateId: templateId, SubscribeStatusString: choice }];
  }

  /**
   * subscribeMessage.send, after the token and method checks. `knownUser` says whether touser is an
   * openid of this account, `publishedPage` whether a path is a page of the released version.
   */
  send(appid: string, body: Record<string, any>, knownUser: boolean, publishedPage: (path: string) => boolean): SubscribeSendResult {
    // 发送订阅消息: 40003 "touser字段openid为空或者不正确"
    if (typeof body.touser !== 'string' || body.touser === '' || !knownUser) return { errcode: 40003 };
    const template = typeof body.template_id === 'string' ? this.templatesByAppid.get(appid)?.get(body.template_id) : undefined;
    // 发送订阅消息: 40037 "订阅模板id为空不正确"
    if (!template) return { errcode: 40037 };
    // Not on the send page: the sandbox answers the generic "data format error" for values outside the listed ones.
    if (body.miniprogram_state !== undefined && !MINIPROGRAM_STATES.includes(body.miniprogram_state)) return { errcode: 47001 };
    if (body.lang !== undefined && !SUBSCRIBE_LANGS.includes(body.lang)) return { errcode: 47001 };
    if (body.page !== undefined && typeof body.page !== 'string') return { errcode: 47001 };
    // 发送订阅消息: 47003 "模板参数不准确，可能为空或者不满足规则，errmsg会提示具体是哪个字段出错"
    const invalid = this.invalidData(template, body.data);
    if (invalid) return { errcode: 47003, errmsg: `argument invalid! ${invalid}` };
    // 发送订阅消息: 43101 "用户拒绝接受消息，如果用户之前曾经订阅过，则表示用户取消了订阅关系";
    // a one-time accept allows one send (一次性订阅), a long-term one lasts while accepted (长期订阅).
    // 发送订阅消息: 41030 "page路径不正确，需要保证在现网版本小程序中存在": checked against the released
    // version's pages, so only when the card opens the released version (miniprogram_state formal).
    if (typeof body.page === 'string' && body.page !== '' && (body.miniprogram_state ?? 'formal') === 'formal' && !publishedPage(body.page.split('?')[0])) {
      return { errcode: 41030 };
    }
    const g = this.grant(appid, body.touser, template.priTmplId);
    if (template.type === 2) {
      if (g.oneTime <= 0) return { errcode: 43101 };
      g.oneTime -= 1;
    } else if (!g.longTerm) {
      return { errcode: 43101 };
    }
    // miniprogram_state: "默认为正式版"; lang: "默认为zh_CN"
    const state = body.miniprogram_state ?? 'formal';
    this.stateCounts.set(state, (this.stateCounts.get(state) ?? 0) + 1);
    const msgId = (9007199254740993n + BigInt(`0x${randomBytes(7).toString('hex')}`)).toString();
    this.sentMessages.push({
      appid,
      touser: body.touser,
      template_id: template.priTmplId,
      ...(body.page ? { page: body.page } : {}),
      data: JSON.parse(JSON.stringify(body.data)),
      miniprogram_state: state,
      lang: body.lang ?? 'zh_CN',
      msgId,
      at: this.now(),
    });
    return { errcode: 0, msgid: msgId };
  }

  /** "data.<key>.value is empty" and the like, or null: the template's fields exactly, each within its rule. */
  private invalidData(template: SandboxTemplate, data: unknown): string | null {
    if (!data || typeof data !== 'object' || Array.isArray(data)) return 'data is empty';
    const fields = parseTemplateFields(template.content);
    const given = data as Record<string, any>;
    for (const key of Object.keys(given)) {
      if (!fields.some(f => f.key === key)) return `data.${key} is not a keyword of the template`;
    }
    for (const f of fields) {
      const value = given[f.key]?.value;
      if (typeof value !== 'string' || value === '') return `data.${f.key}.value is empty`;
      const enums = template.keywordEnumValueList?.find(e => e.keywordCode === f.key)?.enumValueList;
      if (checkTemplateValue(f.type, value, enums)) return `data.${f.key}.value invalid`;
    }
    return null;
  }

  /** The sent event's entry for a delivered message (ErrorCode 0, ErrorStatus success). */
  sentEntry(msgId: string): SubscribeEntry {
    const sent = this.sentMessages.find(m => m.msgId === msgId);
    if (!sent) throw new SubscribeInputError('no subscribe message with this msgId');
    return { TemplateId: sent.template_id, MsgID: sent.msgId, ErrorCode: 0, ErrorStatus: 'success' };
  }

  sent(filter: { touser?: string } = {}): SubscribeSent[] {
    return this.sentMessages.filter(m => filter.touser === undefined || m.touser === filter.touser).map(m => JSON.parse(JSON.stringify(m)));
  }

  /** Messages accepted per miniprogram_state. */
  stateCountsView(): Record<string, number> {
    return Object.fromEntries(this.stateCounts);
  }
}

export function subscribeEndpoints(state: SandboxState) {
  return {
    /** subscribeMessage.send: the rules are in SubscribeStore.send. */
    '/cgi-bin/message/subscribe/send': (req: EndpointRequest): Reply => {
      const checked = authorizedJsonPost(state, req, 'miniProgram');
      if (!('acc' in checked)) return checked;
      const { acc, body } = checked;
      const userKey = typeof body.touser === 'string' ? userKeyOfOpenid(acc.appid, body.touser, state.seed) : null;
      const publishedPage = (path: string) => state.wxa.listPages().includes(path);
      const result = state.subscribe.send(acc.appid, body, userKey !== null && state.knownToMiniProgram(userKey), publishedPage);
      if (result.errcode !== 0) return { body: wxError(result.errcode, 'errmsg' in result ? result.errmsg : undefined) };
      // The reply carries no msgid (developer community: "小程序订阅消息成功不返回msgid"); the
      // delivery is reported later by subscribe_msg_sent_event with its MsgID.
      return { body: { errcode: 0, errmsg: 'ok' } };
    },
    /** getTemplateList: the account's templates (a mini-program API). */
    '/wxaapi/newtmpl/gettemplate': ({ url }: EndpointRequest): Reply => {
      const acc = authorize(state, url, 'miniProgram');
      if (!('kind' in acc)) return acc;
      return { body: { errcode: 0, errmsg: 'ok', data: state.subscribe.templates(acc.appid) } };
    },
  };
}

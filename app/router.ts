import { Application } from 'egg';

export default (app: Application) => {
  const { controller, router } = app;

  router.get('/health', controller.health.show);

  // Login, sessions, unionId and phone number (docs/login.md)
  const auth = app.middleware.auth();
  router.post('/api/login', controller.auth.login);
  router.get('/api/user', auth, controller.user.show);
  router.post('/api/unionid', auth, controller.user.unionId);
  router.post('/api/phone', auth, controller.user.phone);

  // Content security: text and media checks (docs/content-security.md)
  router.post('/api/security/text', auth, controller.security.text);
  router.post('/api/security/media', auth, controller.security.submitMedia);
  router.get('/api/security/media/:traceId', auth, controller.security.showMedia);

  // WeChat message push (docs/message-push.md): the mini-program's, and the official account's (docs/official-account.md).
  const miniprogramPush = app.middleware.pushChannel({ channel: 'miniprogram' });
  router.get('/message/check', miniprogramPush, controller.message.verify);
  router.post('/message/check', miniprogramPush, controller.message.receive);
  const officialAccountPush = app.middleware.pushChannel({ channel: 'officialAccount' });
  router.get('/oa/message', officialAccountPush, controller.message.verify);
  router.post('/oa/message', officialAccountPush, controller.message.receive);

  // Admin API (docs/message-push.md): NOT_FOUND unless ADMIN_TOKEN is set.
  const adminAuth = app.middleware.adminAuth();
  router.get('/admin/reply-rules', adminAuth, controller.admin.listRules);
  router.post('/admin/reply-rules', adminAuth, controller.admin.createRule);
  router.get('/admin/reply-rules/:id', adminAuth, controller.admin.showRule);
  router.put('/admin/reply-rules/:id', adminAuth, controller.admin.replaceRule);
  router.delete('/admin/reply-rules/:id', adminAuth, controller.admin.deleteRule);
  router.get('/admin/messages', adminAuth, controller.admin.listMessages);
  router.post('/admin/media', adminAuth, controller.media.upload);
  router.get('/admin/media', adminAuth, controller.media.list);
  router.get('/admin/media/:id', adminAuth, controller.media.show);
  router.delete('/admin/media/:id', adminAuth, controller.media.remove);

  // Subscribe messages (docs/subscribe-messages.md)
  router.get('/api/subscriptions/messages', auth, controller.subscribeMessage.grants);
  router.post('/admin/subscribe-messages', adminAuth, controller.subscribeMessage.send);
  router.get('/admin/subscribe-messages/:id', adminAuth, controller.subscribeMessage.show);
  router.get('/admin/subscribe-templates', adminAuth, controller.subscribeMessage.templates);

  // Official account: follow check and follower sync (docs/official-account.md)
  router.get('/api/subscription', auth, controller.officialAccount.subscription);
  router.get('/api/oa/followers/:unionId', adminAuth, controller.officialAccount.follower);
  router.post('/admin/oa/sync', adminAuth, controller.officialAccount.startSync);
  router.get('/admin/oa/sync', adminAuth, controller.officialAccount.syncStatus);

  // Mini-program codes and links (docs/wxacode.md)
  const adminOrSession = app.middleware.adminOrSession({ sessionAllowed: ctx => ctx.app.config.backend.wxacode.sessionAccess });
  router.get('/api/wxacode', adminOrSession, controller.wxacode.show);
  router.post('/admin/url-links', adminAuth, controller.wxacode.createUrlLink);
  router.post('/admin/url-schemes', adminAuth, controller.wxacode.createUrlScheme);

  // The API contract (docs/openapi.yaml) and its reference page: NOT_FOUND unless config.backend.apiDocs.enabled.
  router.get('/openapi.json', controller.apiDocs.contract);
  router.get('/docs', controller.apiDocs.page);
  router.get('/docs/:file', controller.apiDocs.asset);
};

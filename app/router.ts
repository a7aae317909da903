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
};

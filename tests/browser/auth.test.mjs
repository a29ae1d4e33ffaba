/*
 * Registering, logging in and out; the server's form errors shown beside their fields.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, screenshot, assert, PASSWORD, PHONE } from './harness.mjs';

describe('accounts', () => {
  let server, browser, page;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    await server.register('taken');
  });

  after(async () => {
    await closePages(page);
    await browser?.close();
    await server?.stop();
  });

  it('sends a visitor to the log-in screen, with a link to register', async () => {
    page = await openPage(browser, server, { path: '/' });
    await page.getByRole('heading', { name: 'Welcome back!' }).waitFor();
    assert.ok(page.url().endsWith('/login'));
    assert.equal(await page.title(), 'Log in · Hearth');
    await screenshot(page, 'desktop-login');
    await page.getByRole('link', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    assert.ok(page.url().endsWith('/register'));
  });

  it('shows the server’s field errors: a taken name, a bad name', async () => {
    await page.getByLabel('Username').fill('taken');
    await page.getByLabel('Password').fill(PASSWORD);
    page.expectError(/status of 400/);
    await page.getByRole('button', { name: 'Continue' }).click();
    const err = page.locator('#auth-username-err');
    await err.filter({ hasText: /.+/ }).waitFor();
    assert.equal(await page.getByLabel('Username').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'auth-username');
    await page.getByLabel('Username').fill('no spaces allowed');
    page.expectError(/status of 400/);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('#auth-username-err', { hasText: 'can only contain' }).waitFor();
  });

  it('registers with the keyboard and lands in the app', async () => {
    await page.getByLabel('Username').fill('dana');
    await page.getByLabel('Display name (optional)').fill('Dana');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: 'Welcome, Dana!' }).waitFor();
    assert.ok(page.url().endsWith('/channels/@me'));
    assert.match(await page.getByRole('region', { name: 'Your account' }).getByRole('button').getAttribute('aria-label'), /^Dana, Online/);
  });

  it('logs out from the account menu', async () => {
    await page.getByRole('region', { name: 'Your account' }).getByRole('button').click();
    await page.getByRole('menuitem', { name: 'Log Out' }).click();
    await page.getByRole('heading', { name: 'Welcome back!' }).waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('hearth.token')), null);
  });

  it('refuses a wrong password and logs in with the right one', async () => {
    await page.getByLabel('Username').fill('dana');
    await page.getByLabel('Password').fill('not the password');
    page.expectError(/status of 400/);
    await page.getByRole('button', { name: 'Log In' }).click();
    await page.locator('#auth-password-err').filter({ hasText: /.+/ }).waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: 'Welcome, Dana!' }).waitFor();
    // A reload keeps you logged in.
    await page.reload();
    await page.getByRole('heading', { name: 'Welcome, Dana!' }).waitFor();
  });

  it('fits a phone', async () => {
    const phone = await openPage(browser, server, { path: '/login', viewport: PHONE });
    await phone.getByRole('heading', { name: 'Welcome back!' }).waitFor();
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= innerWidth));
    await screenshot(phone, 'phone-login');
    await closePages(phone);
  });
});

/** `/auth`: log in (the client adopts the tokens), refresh, log out, who am I. */

import type { RequestOptions } from '../core.js';
import type { Me, TokenResponse } from '../types.js';
import { APIResource } from './base.js';

export class Auth extends APIResource {
  /**
   * Log in with email and password. The client keeps the access and refresh tokens and
   * renews the access token by itself when it expires or is refused.
   */
  async login(email: string, password: string, options?: RequestOptions): Promise<TokenResponse> {
    const tokens = await this.client.request<TokenResponse>(
      { method: 'POST', path: '/auth/login', body: { email, password }, auth: false },
      options,
    );
    this.client.setTokens(tokens);
    return tokens;
  }

  /**
   * Rotate the refresh token (the client's own unless one is given) and adopt the new
   * pair. The old refresh token is spent: presenting it again ends the whole login.
   */
  async refresh(refreshToken?: string, options: RequestOptions = {}): Promise<TokenResponse> {
    const token = refreshToken ?? this.client.refreshToken;
    if (!token) throw new TypeError('No refresh token: log in first or pass one');
    // The client's own token goes through the shared refresh, never twice at once.
    if (token === this.client.refreshToken) return this.client.refreshTokens(options);
    const tokens = await this.client.request<TokenResponse>(
      { method: 'POST', path: '/auth/refresh', body: { refresh_token: token }, auth: false },
      options,
    );
    this.client.setTokens(tokens);
    return tokens;
  }

  /** End this access token and its refresh family on the server, then forget them. */
  async logout(options?: RequestOptions): Promise<void> {
    try {
      await this.client.request<void>({ method: 'POST', path: '/auth/logout' }, options);
    } finally {
      this.client.clearTokens();
    }
  }

  /** The user this client acts as, and through which credential (`via`). */
  me(options?: RequestOptions): Promise<Me> {
    return this.client.request<Me>({ method: 'GET', path: '/auth/me' }, options);
  }
}

/** `/workflows`: CRUD with optimistic concurrency, revisions, execute, history. */

import type { RequestOptions } from '../core.js';
import { paginate } from '../pagination.js';
import type {
  ExecuteParams,
  Execution,
  ExecutionListParams,
  ExecutionPage,
  Workflow,
  WorkflowCreateParams,
  WorkflowListParams,
  WorkflowPage,
  WorkflowSummary,
  WorkflowUpdateParams,
  WorkflowVersion,
} from '../types.js';
import { APIResource, seg } from './base.js';

export class Workflows extends APIResource {
  /** One page: `{workflows, pagination}` (the seed's shape). */
  list(params: WorkflowListParams = {}, options?: RequestOptions): Promise<WorkflowPage> {
    return this.client.request<WorkflowPage>(
      { method: 'GET', path: '/workflows', query: { ...params } },
      options,
    );
  }

  /**
   * Every workflow matching `params`, page after page:
   * `for await (const wf of client.workflows.iterate({ status: 'active' })) ...`
   */
  iterate(
    params: WorkflowListParams = {},
    options?: RequestOptions,
  ): AsyncGenerator<WorkflowSummary, void, undefined> {
    return paginate(
      params.page ?? 1,
      (page) => this.list({ ...params, page }, options),
      (page) => page.workflows,
    );
  }

  create(params: WorkflowCreateParams, options?: RequestOptions): Promise<Workflow> {
    return this.client.request<Workflow>(
      { method: 'POST', path: '/workflows', body: params },
      options,
    );
  }

  get(id: string, options?: RequestOptions): Promise<Workflow> {
    return this.client.request<Workflow>({ method: 'GET', path: `/workflows/${seg(id)}` }, options);
  }

  /**
   * Change the fields given. Pass the `version` you read to refuse lost updates: a stale
   * one throws ConflictError. Every change becomes a new numbered revision.
   */
  update(id: string, params: WorkflowUpdateParams, options?: RequestOptions): Promise<Workflow> {
    return this.client.request<Workflow>(
      { method: 'PUT', path: `/workflows/${seg(id)}`, body: params },
      options,
    );
  }

  async delete(id: string, options?: RequestOptions): Promise<void> {
    await this.client.request<void>({ method: 'DELETE', path: `/workflows/${seg(id)}` }, options);
  }

  /**
   * Start a run; answers the queued execution. With `wait` (seconds) the server holds the
   * answer until the run ends or the time is up (the request timeout grows to match).
   */
  execute(id: string, params: ExecuteParams = {}, options: RequestOptions = {}): Promise<Execution> {
    const { input = {}, wait } = params;
    const timeout =
      options.timeout ?? (wait ? this.client.timeout + wait * 1000 : undefined);
    return this.client.request<Execution>(
      {
        method: 'POST',
        path: `/workflows/${seg(id)}/execute`,
        query: { wait },
        body: { input },
      },
      timeout === undefined ? options : { ...options, timeout },
    );
  }

  /** This workflow's runs, newest first: `{executions, pagination}`. */
  executions(
    id: string,
    params: Omit<ExecutionListParams, 'workflow_id'> = {},
    options?: RequestOptions,
  ): Promise<ExecutionPage> {
    return this.client.request<ExecutionPage>(
      { method: 'GET', path: `/workflows/${seg(id)}/executions`, query: { ...params } },
      options,
    );
  }

  /** Every revision, without definitions (fetch one with `getVersion()`). */
  async versions(id: string, options?: RequestOptions): Promise<WorkflowVersion[]> {
    const body = await this.client.request<{ versions: WorkflowVersion[] }>(
      { method: 'GET', path: `/workflows/${seg(id)}/versions` },
      options,
    );
    return body.versions;
  }

  /** One revision with its definition. */
  getVersion(id: string, version: number, options?: RequestOptions): Promise<WorkflowVersion> {
    return this.client.request<WorkflowVersion>(
      { method: 'GET', path: `/workflows/${seg(id)}/versions/${seg(version)}` },
      options,
    );
  }

  /** Make revision `version` current again (itself recorded as a new revision). */
  restore(id: string, version: number, options?: RequestOptions): Promise<Workflow> {
    return this.client.request<Workflow>(
      { method: 'POST', path: `/workflows/${seg(id)}/versions/${seg(version)}/restore` },
      options,
    );
  }
}

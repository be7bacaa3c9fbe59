/** alerts/ — rule files, the evaluator, notifications, incident reports. */
export { loadRules, parseRuleFile, formatRuleError, type LoadedRule, type RuleGroup, type RuleError } from './rules.js';
export { Evaluator, type EvaluatorOptions, type EvalResult, type AlertLogger } from './evaluator.js';
export { sendWebhook, buildPayload, type WebhookPayload, type WebhookOptions } from './notify.js';
export { incidentReport, formatIncident, type IncidentReport } from './incident.js';
export { DEFAULT_RULES_DIR } from './defaults.js';
export { AlertmanagerClient, AlertmanagerConfigError, parseAlertmanagerUrl, type AlertmanagerConfig, type AlertmanagerStats, type AmAlert } from './alertmanager.js';

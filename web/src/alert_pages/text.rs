//! Strings of the alert rule, silence and alert-list pages, in English and Simplified
//! Chinese. Like [`crate::i18n::Messages`], the catalogue is a struct, so a missing
//! translation is a compile error. The rule editor's script receives the field errors it
//! checks before sending as `data-*` attributes.

use crate::i18n::Lang;

macro_rules! alerts_catalogue {
    ($( $field:ident ),* $(,)?) => {
        /// Every string of the alert pages, in one language.
        #[derive(Debug)]
        pub struct AlertsText {
            $(
                #[doc = concat!("The `", stringify!($field), "` message.")]
                pub $field: &'static str,
            )*
        }

        impl AlertsText {
            /// `(field name, text)` of every message (tests check none is empty).
            pub fn all(&self) -> Vec<(&'static str, &'static str)> {
                vec![$( (stringify!($field), self.$field), )*]
            }
        }
    };
}

alerts_catalogue! {
    tab_alerts, tab_rules, tab_silences,
    rules_title, rules_intro, new_rule, rules_empty, col_name, col_condition, col_scope,
    col_severity, col_channels, col_enabled, col_actions, builtin, enabled, disabled, edit,
    delete, confirm_delete, none,
    new_rule_title, edit_rule_title, f_name, f_metric, f_scope, f_scope_value, scope_all,
    scope_node, scope_label, scope_project, f_op, f_threshold, f_for_s, f_recover,
    f_recover_hint, f_severity, f_channels, f_channels_hint, f_enabled, event_hint,
    create_button, save_button, cancel, form_error,
    sev_info, sev_warning, sev_critical,
    m_cpu_total_pct, m_mem_used_pct, m_swap_used_pct, m_disk_used_pct, m_load1,
    m_net_rx_bytes_per_sec, m_net_tx_bytes_per_sec, m_tcp_established, m_node_offline,
    m_container_exited, m_rollout_rolled_back,
    err_required, err_number, err_whole_number, err_scope_value, err_not_found,
    done_created, done_saved, done_deleted,
    silences_title, silences_intro, silences_empty, col_rule, col_node, col_until,
    col_comment, col_by, any_node, f_rule, f_rule_hint, f_node, f_node_hint, f_until,
    f_until_hint, f_comment, silence_button, done_silenced, done_unsilenced,
    filter_title, filter_state, filter_severity, filter_node, filter_rule, filter_any,
    filter_apply, filter_clear, state_firing, state_resolved,
    rule_threshold, rule_container_exited, rule_rollout_rolled_back,
    resolution_recovered, resolution_rule_deleted, resolution_no_data, silenced,
    col_value,
}

/// The catalogue of `lang`.
pub fn alerts_text(lang: Lang) -> &'static AlertsText {
    match lang {
        Lang::En => &EN,
        Lang::ZhCn => &ZH_CN,
    }
}

/// English.
pub static EN: AlertsText = AlertsText {
    tab_alerts: "Alerts",
    tab_rules: "Rules",
    tab_silences: "Silences",
    rules_title: "Alert rules",
    rules_intro: "A threshold rule fires when a metric stays past its threshold for the given time and resolves once the value is back past its recovery threshold; an event rule says who hears of a built-in event. One notification when an alert fires, one when it resolves.",
    new_rule: "New rule",
    rules_empty: "No rule yet.",
    col_name: "Name",
    col_condition: "Condition",
    col_scope: "Scope",
    col_severity: "Severity",
    col_channels: "Channels",
    col_enabled: "State",
    col_actions: "Actions",
    builtin: "built in",
    enabled: "enabled",
    disabled: "disabled",
    edit: "Edit",
    delete: "Delete",
    confirm_delete: "Delete this rule? Its firing alerts resolve.",
    none: "–",
    new_rule_title: "New alert rule",
    edit_rule_title: "Edit alert rule {name}",
    f_name: "Name",
    f_metric: "Metric or event",
    f_scope: "Scope",
    f_scope_value: "Node id, label (key=value) or project",
    scope_all: "All slaves",
    scope_node: "One slave",
    scope_label: "Slaves with a label",
    scope_project: "Slaves running a project",
    f_op: "Comparison",
    f_threshold: "Threshold",
    f_for_s: "For (seconds)",
    f_recover: "Recovery threshold",
    f_recover_hint: "Empty: the threshold. An alert above 90 recovering below 80 does not flap.",
    f_severity: "Severity",
    f_channels: "Notification channels",
    f_channels_hint: "Channel names, one per line or separated by commas.",
    f_enabled: "Enabled",
    event_hint: "Events (slave offline, container exited, rollout rolled back) take no threshold.",
    create_button: "Create rule",
    save_button: "Save rule",
    cancel: "Cancel",
    form_error: "Not saved:",
    sev_info: "info",
    sev_warning: "warning",
    sev_critical: "critical",
    m_cpu_total_pct: "CPU use (%)",
    m_mem_used_pct: "Memory use (%)",
    m_swap_used_pct: "Swap use (%)",
    m_disk_used_pct: "Disk use per mount (%)",
    m_load1: "Load (1 min)",
    m_net_rx_bytes_per_sec: "Network in (bytes/s)",
    m_net_tx_bytes_per_sec: "Network out (bytes/s)",
    m_tcp_established: "TCP connections established",
    m_node_offline: "Event: slave offline",
    m_container_exited: "Event: container exited",
    m_rollout_rolled_back: "Event: rollout rolled back",
    err_required: "Required.",
    err_number: "Enter a number.",
    err_whole_number: "Enter a whole number.",
    err_scope_value: "Enter the node id, label (key=value) or project for this scope.",
    err_not_found: "Not found:",
    done_created: "Rule created.",
    done_saved: "Rule saved.",
    done_deleted: "Rule deleted.",
    silences_title: "Silences",
    silences_intro: "A silenced rule's alerts still show but send no notification until the silence ends.",
    silences_empty: "No silence in effect.",
    col_rule: "Rule",
    col_node: "Slave",
    col_until: "Until",
    col_comment: "Comment",
    col_by: "By",
    any_node: "every slave",
    f_rule: "Rule",
    f_rule_hint: "A rule's name or id, or a built-in kind such as node_offline.",
    f_node: "Slave id",
    f_node_hint: "Empty: every slave.",
    f_until: "Silence for (minutes)",
    f_until_hint: "From now; at most a year.",
    f_comment: "Comment",
    silence_button: "Silence",
    done_silenced: "Silence created.",
    done_unsilenced: "Silence deleted.",
    filter_title: "Filter",
    filter_state: "State",
    filter_severity: "Severity",
    filter_node: "Slave id",
    filter_rule: "Rule",
    filter_any: "any",
    filter_apply: "Apply",
    filter_clear: "Clear",
    state_firing: "firing",
    state_resolved: "resolved",
    rule_threshold: "Threshold",
    rule_container_exited: "Container exited",
    rule_rollout_rolled_back: "Rollout rolled back",
    resolution_recovered: "recovered",
    resolution_rule_deleted: "rule deleted or disabled",
    resolution_no_data: "no data",
    silenced: "silenced",
    col_value: "Value",
};

/// Simplified Chinese.
pub static ZH_CN: AlertsText = AlertsText {
    tab_alerts: "告警",
    tab_rules: "规则",
    tab_silences: "静默",
    rules_title: "告警规则",
    rules_intro: "阈值规则在指标越过阈值并持续指定时间后触发，数值回到恢复阈值另一侧后恢复；事件规则决定内置事件通知给谁。告警触发时通知一次，恢复时再通知一次。",
    new_rule: "新建规则",
    rules_empty: "还没有规则。",
    col_name: "名称",
    col_condition: "条件",
    col_scope: "范围",
    col_severity: "级别",
    col_channels: "通知渠道",
    col_enabled: "状态",
    col_actions: "操作",
    builtin: "内置",
    enabled: "已启用",
    disabled: "已停用",
    edit: "编辑",
    delete: "删除",
    confirm_delete: "删除此规则？其正在触发的告警将恢复。",
    none: "–",
    new_rule_title: "新建告警规则",
    edit_rule_title: "编辑告警规则 {name}",
    f_name: "名称",
    f_metric: "指标或事件",
    f_scope: "范围",
    f_scope_value: "节点编号、标签（键=值）或项目",
    scope_all: "所有节点",
    scope_node: "单个节点",
    scope_label: "带某标签的节点",
    scope_project: "运行某项目的节点",
    f_op: "比较",
    f_threshold: "阈值",
    f_for_s: "持续（秒）",
    f_recover: "恢复阈值",
    f_recover_hint: "留空即等于阈值。高于 90 触发、低于 80 恢复，可避免反复抖动。",
    f_severity: "级别",
    f_channels: "通知渠道",
    f_channels_hint: "渠道名称，每行一个或用逗号分隔。",
    f_enabled: "启用",
    event_hint: "事件（节点离线、容器退出、发布回滚）不需要阈值。",
    create_button: "创建规则",
    save_button: "保存规则",
    cancel: "取消",
    form_error: "未保存：",
    sev_info: "提示",
    sev_warning: "警告",
    sev_critical: "严重",
    m_cpu_total_pct: "CPU 使用率（%）",
    m_mem_used_pct: "内存使用率（%）",
    m_swap_used_pct: "交换区使用率（%）",
    m_disk_used_pct: "各挂载点磁盘使用率（%）",
    m_load1: "负载（1 分钟）",
    m_net_rx_bytes_per_sec: "网络流入（字节/秒）",
    m_net_tx_bytes_per_sec: "网络流出（字节/秒）",
    m_tcp_established: "已建立的 TCP 连接数",
    m_node_offline: "事件：节点离线",
    m_container_exited: "事件：容器退出",
    m_rollout_rolled_back: "事件：发布已回滚",
    err_required: "必填。",
    err_number: "请输入数字。",
    err_whole_number: "请输入整数。",
    err_scope_value: "请为此范围填写节点编号、标签（键=值）或项目。",
    err_not_found: "未找到：",
    done_created: "规则已创建。",
    done_saved: "规则已保存。",
    done_deleted: "规则已删除。",
    silences_title: "静默",
    silences_intro: "被静默规则的告警仍会显示，但在静默结束前不发送通知。",
    silences_empty: "没有生效中的静默。",
    col_rule: "规则",
    col_node: "节点",
    col_until: "截止",
    col_comment: "备注",
    col_by: "创建者",
    any_node: "所有节点",
    f_rule: "规则",
    f_rule_hint: "规则名称或编号，或内置类型，例如 node_offline。",
    f_node: "节点编号",
    f_node_hint: "留空表示所有节点。",
    f_until: "静默时长（分钟）",
    f_until_hint: "从现在起计算，最长一年。",
    f_comment: "备注",
    silence_button: "静默",
    done_silenced: "静默已创建。",
    done_unsilenced: "静默已删除。",
    filter_title: "筛选",
    filter_state: "状态",
    filter_severity: "级别",
    filter_node: "节点编号",
    filter_rule: "规则",
    filter_any: "任意",
    filter_apply: "应用",
    filter_clear: "清除",
    state_firing: "触发中",
    state_resolved: "已恢复",
    rule_threshold: "阈值",
    rule_container_exited: "容器退出",
    rule_rollout_rolled_back: "发布已回滚",
    resolution_recovered: "已恢复正常",
    resolution_rule_deleted: "规则已删除或停用",
    resolution_no_data: "无数据",
    silenced: "已静默",
    col_value: "数值",
};

impl AlertsText {
    /// The label of `metric`.
    pub fn metric(&self, metric: model::alert_rule::Metric) -> &'static str {
        use model::alert_rule::Metric as M;
        match metric {
            M::CpuTotalPct => self.m_cpu_total_pct,
            M::MemUsedPct => self.m_mem_used_pct,
            M::SwapUsedPct => self.m_swap_used_pct,
            M::DiskUsedPct => self.m_disk_used_pct,
            M::Load1 => self.m_load1,
            M::NetRxBytesPerSec => self.m_net_rx_bytes_per_sec,
            M::NetTxBytesPerSec => self.m_net_tx_bytes_per_sec,
            M::TcpEstablished => self.m_tcp_established,
            M::NodeOffline => self.m_node_offline,
            M::ContainerExited => self.m_container_exited,
            M::RolloutRolledBack => self.m_rollout_rolled_back,
        }
    }

    /// The label of `severity`.
    pub fn severity(&self, severity: model::alert::Severity) -> &'static str {
        use model::alert::Severity as S;
        match severity {
            S::Info => self.sev_info,
            S::Warning => self.sev_warning,
            S::Critical => self.sev_critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_is_translated() {
        let (en, zh) = (EN.all(), ZH_CN.all());
        assert_eq!(en.len(), zh.len());
        for ((k, e), (_, z)) in en.iter().zip(&zh) {
            assert!(!e.is_empty() && !z.is_empty(), "{k} is empty");
        }
        // Chinese differs from English wherever a word is translated (not symbols).
        let same: Vec<&str> = en
            .iter()
            .zip(&zh)
            .filter(|((_, e), (_, z))| e == z && e.chars().any(char::is_alphabetic))
            .map(|((k, _), _)| *k)
            .collect();
        assert!(same.is_empty(), "untranslated: {same:?}");
    }
}

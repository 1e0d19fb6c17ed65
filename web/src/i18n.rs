//! The console's two languages: English and Simplified Chinese.
//!
//! [`Messages`] is the whole catalogue as struct fields, so a missing translation is a
//! compile error and templates print `{{ t.field }}` (escaped like any other string). The
//! signed-in user's choice is stored on the user record; before login the browser's
//! `Accept-Language` (or `?lang=`) decides. The JSON API stays English.

use axum::http::{HeaderMap, header};

pub use model::account::Lang;

/// What the console adds to [`Lang`]: its catalogue, and the choice from request headers.
pub trait LangExt {
    /// The first supported language of an `Accept-Language` header (weights are honoured
    /// by order only, as browsers list them by preference), English by default.
    fn from_headers(headers: &HeaderMap) -> Lang;

    /// The catalogue.
    fn messages(self) -> &'static Messages;
}

impl LangExt for Lang {
    fn from_headers(headers: &HeaderMap) -> Lang {
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .into_iter()
            .flat_map(|v| v.split(','))
            .filter_map(|part| Lang::parse(part.split(';').next().unwrap_or_default()))
            .next()
            .unwrap_or_default()
    }

    fn messages(self) -> &'static Messages {
        messages(self)
    }
}

/// The catalogue of `lang`.
pub fn messages(lang: Lang) -> &'static Messages {
    match lang {
        Lang::En => &EN,
        Lang::ZhCn => &ZH_CN,
    }
}

macro_rules! catalogue {
    ($( $field:ident ),* $(,)?) => {
        /// Every string the pages show, in one language.
        #[derive(Debug)]
        pub struct Messages {
            $(
                #[doc = concat!("The `", stringify!($field), "` message.")]
                pub $field: &'static str,
            )*
        }

        impl Messages {
            /// `(field name, text)` of every message (tests check none is empty).
            pub fn all(&self) -> Vec<(&'static str, &'static str)> {
                vec![$( (stringify!($field), self.$field), )*]
            }
        }
    };
}

catalogue! {
    brand, nav_home, nav_slaves, nav_docker, nav_records, nav_data, nav_account,
    logout, signed_in_as, language, skip_to_content,
    home_title, card_online, card_enrolled, card_revoked,
    slaves_title, no_slaves, col_id, col_host, col_status, col_last_seen, col_cpu,
    col_memory, col_load, col_tcp, agent, status_online, status_offline, status_revoked,
    docker_title, docker_version, docker_not_installed, docker_not_reported, docker_note,
    data_title, data_database, data_size, data_env_data, data_env_performance, data_note,
    data_compact_scheduled, data_compact_cancel, data_compact_cancelled, data_compact_last,
    data_compact_failed, data_compact_offline,
    records_title, audit_title, filter_user, filter_action, filter_result, filter_since,
    filter_until, filter_apply, filter_reset, filter_any, col_time, col_user, col_action,
    col_target, col_client, col_result, col_detail, result_ok, result_failed, result_denied,
    audit_empty, page_older, page_newest, times_utc,
    login_title, username, password, login_button, register_title, register_intro,
    password_confirm, register_button, password_rule,
    account_title, change_password, current_password, new_password, change_button,
    password_changed, language_saved,
    err_credentials, err_locked, err_form_expired, err_mismatch, err_registration_closed,
    err_current_password, err_internal, err_login_in_flight, err_login_busy, err_username_length, err_username_characters,
    err_password_short, err_password_long, err_password_kinds, err_password_repetitive,
    err_password_username, err_password_common, error_back,
    detail_title, back_to_slaves, host_title, host_os, host_kernel, host_arch, host_cpu, host_cores, host_memory, host_swap, host_booted, host_not_reported, disks_title, col_mount, col_device, col_fs, col_size, col_used, now_title, charts_title, chart_cpu, chart_memory, chart_network, chart_disk, series_memory, series_swap, series_rx, series_tx, live_waiting, live_on, live_off, live_ended, last_sample, samples_received, err_no_slave, search_label, search_placeholder, search_button, search_clear, page_prev, page_next, page_status, no_match, view_all, data_compact_title, data_compact_intro, data_compact_button, data_compacted, data_reclaimable, data_took, data_backup_title, data_backup_intro, data_backup_data, data_backup_performance, data_reset_title, data_reset_intro, data_category, data_cat_samples, data_cat_audit, data_older_than, data_reset_button, data_confirm_title, data_confirm_samples, data_confirm_samples_all, data_confirm_audit, data_confirm_audit_all, data_irreversible, data_confirm_button, cancel, data_reset_done, data_compact_done, busy, err_category, err_days, err_data_busy, err_backend,
    nav_alerts, alerts_title, alerts_note, card_alerts, alerts_active, alerts_none_active,
    alerts_history, alerts_history_empty, rule_node_offline, alert_firing, alert_resolved,
    col_alert, col_fired, col_resolved, col_duration, resolution_online, resolution_revoked,
    alert_toast, alert_toast_link, dismiss,
}

/// English.
pub static EN: Messages = Messages {
    brand: "Commander",
    nav_home: "Home",
    nav_slaves: "Slaves",
    nav_docker: "Docker",
    nav_records: "Records",
    nav_data: "Data",
    nav_account: "Account",
    logout: "Log out",
    signed_in_as: "Signed in as",
    language: "Language",
    skip_to_content: "Skip to content",
    home_title: "Overview",
    card_online: "Slaves online",
    card_enrolled: "Slaves enrolled",
    card_revoked: "Slaves revoked",
    slaves_title: "Slaves",
    no_slaves: "No slaves yet: run",
    col_id: "ID",
    col_host: "Host",
    col_status: "Status",
    col_last_seen: "Last seen",
    col_cpu: "CPU",
    col_memory: "Memory",
    col_load: "Load",
    col_tcp: "TCP est.",
    agent: "agent",
    status_online: "online",
    status_offline: "offline",
    status_revoked: "revoked",
    docker_title: "Docker engines",
    docker_version: "Docker version",
    docker_not_installed: "not installed",
    docker_not_reported: "not reported yet",
    docker_note: "Choose a slave to manage its engine, containers, images, networks and volumes.",
    data_title: "Data management",
    data_database: "Database",
    data_size: "Size on disk",
    data_env_data: "Cluster records (data)",
    data_env_performance: "Metric samples (performance)",
    data_note: "User accounts are never reset from the console. Every action here is written to the audit log.",
    data_compact_scheduled: "Compaction scheduled on {when}: it runs when the master next starts.",
    data_compact_cancel: "Cancel the scheduled compaction",
    data_compact_cancelled: "The scheduled compaction was cancelled.",
    data_compact_last: "Last compaction, {when}:",
    data_compact_failed: "It failed and left the files unchanged:",
    data_compact_offline: "To compact right away, stop the master and run: commander db compact --data-dir DIR",
    records_title: "Records",
    audit_title: "Audit log",
    filter_user: "User",
    filter_action: "Action",
    filter_result: "Result",
    filter_since: "Since",
    filter_until: "Until",
    filter_apply: "Filter",
    filter_reset: "Reset",
    filter_any: "any",
    col_time: "Time (UTC)",
    col_user: "User",
    col_action: "Action",
    col_target: "Target",
    col_client: "Client",
    col_result: "Result",
    col_detail: "Detail",
    result_ok: "ok",
    result_failed: "failed",
    result_denied: "denied",
    audit_empty: "No records match.",
    page_older: "Older",
    page_newest: "Newest",
    times_utc: "Times are UTC, e.g. 2024-02-29T12:00.",
    login_title: "Log in",
    username: "User name",
    password: "Password",
    login_button: "Log in",
    register_title: "Create the administrator account",
    register_intro: "This is the first start of this master. Create the account that administers it; registration closes for good afterwards.",
    password_confirm: "Repeat the password",
    register_button: "Create account",
    password_rule: "At least 10 characters, with at least two kinds (letters, digits, symbols).",
    account_title: "Account",
    change_password: "Change password",
    current_password: "Current password",
    new_password: "New password",
    change_button: "Change password",
    password_changed: "Password changed. Every other session was signed out.",
    language_saved: "Language saved.",
    err_credentials: "Wrong user name or password.",
    err_locked: "Too many failed logins from this address. Try again in {minutes} min.",
    err_form_expired: "This form has expired. Please try again.",
    err_mismatch: "The two passwords differ.",
    err_registration_closed: "Registration is closed: the administrator account exists.",
    err_current_password: "The current password is wrong.",
    err_internal: "Something went wrong on the server; the master's log has the details.",
    err_login_in_flight: "Another login from this address or for this user is being checked. Try again in a moment.",
    err_login_busy: "The server is busy checking other logins. Try again in a moment.",
    err_username_length: "The user name must have 1 to 64 characters.",
    err_username_characters: "The user name may use letters, digits, '.', '_' and '-', starting with a letter or digit.",
    err_password_short: "The password must have at least 10 characters.",
    err_password_long: "The password is too long (at most 1024 bytes).",
    err_password_kinds: "The password needs at least two kinds of character: lower case, upper case, digits, symbols.",
    err_password_repetitive: "The password needs at least five different characters.",
    err_password_username: "The password must not contain the user name.",
    err_password_common: "This password is too common.",
    error_back: "Back to the console",
    detail_title: "Slave",
    back_to_slaves: "← All slaves",
    host_title: "Host",
    host_os: "Operating system",
    host_kernel: "Kernel",
    host_arch: "Architecture",
    host_cpu: "Processor",
    host_cores: "Logical CPUs",
    host_memory: "Memory",
    host_swap: "Swap",
    host_booted: "Booted",
    host_not_reported: "The slave has not reported its host yet.",
    disks_title: "Disks",
    col_mount: "Mount",
    col_device: "Device",
    col_fs: "File system",
    col_size: "Size",
    col_used: "Used",
    now_title: "Now",
    charts_title: "Live metrics",
    chart_cpu: "CPU (%)",
    chart_memory: "Memory (%)",
    chart_network: "Network (per second)",
    chart_disk: "Disk used (%)",
    series_memory: "memory",
    series_swap: "swap",
    series_rx: "received",
    series_tx: "sent",
    live_waiting: "Connecting…",
    live_on: "Live",
    live_off: "Connection lost; retrying…",
    live_ended: "Your session ended; log in again.",
    last_sample: "Last sample",
    samples_received: "samples received",
    err_no_slave: "There is no slave with this id.",
    search_label: "Search slaves",
    search_placeholder: "host name, id or status",
    search_button: "Search",
    search_clear: "Clear",
    page_prev: "← Previous",
    page_next: "Next →",
    page_status: "{from}–{to} of {total}",
    no_match: "No slave matches the search.",
    view_all: "All slaves →",
    data_compact_title: "Compaction",
    data_compact_intro: "A running master cannot shrink its database files (LMDB reuses their free pages, so they stop growing). Compaction measures what can be reclaimed now, with a compacted copy that is removed again, and rewrites the files when the master next starts.",
    data_compact_button: "Measure and schedule compaction",
    data_compacted: "Compacted",
    data_reclaimable: "Reclaimable",
    data_took: "Took",
    data_backup_title: "Backup",
    data_backup_intro: "Downloads a consistent copy of a database, taken while the master runs; restore it as data.mdb in an empty directory. The data database holds password hashes and sessions: keep the file private.",
    data_backup_data: "Download the data database",
    data_backup_performance: "Download the metrics database",
    data_reset_title: "Reset a category",
    data_reset_intro: "Deletes records for good. User accounts are never reset.",
    data_category: "Category",
    data_cat_samples: "Metric samples (all slaves)",
    data_cat_audit: "Audit log",
    data_older_than: "Older than (days; 0 = all)",
    data_reset_button: "Reset…",
    data_confirm_title: "Confirm the reset",
    data_confirm_samples: "Delete every metric sample older than {days} days, of every slave?",
    data_confirm_samples_all: "Delete ALL metric samples of every slave?",
    data_confirm_audit: "Delete every audit log entry older than {days} days?",
    data_confirm_audit_all: "Delete the whole audit log? (This reset itself will be logged.)",
    data_irreversible: "This cannot be undone. User accounts are not affected.",
    data_confirm_button: "Yes, delete",
    cancel: "Cancel",
    data_reset_done: "{n} entries removed.",
    data_compact_done: "Measured. The master compacts the databases when it next starts.",
    busy: "Working…",
    err_category: "Choose metric samples or the audit log. User accounts are never reset.",
    err_days: "Days must be a whole number from 0 to 36500.",
    err_data_busy: "Another data operation is running; try again shortly.",
    err_backend: "The master could not do this:",
    nav_alerts: "Alerts",
    alerts_title: "Alerts",
    alerts_note: "Built-in rule: a slave that stops sending heartbeats (its TTL and grace period expired) raises “slave offline”, resolved when it comes back. Revoking a slave is not an alert. This page updates by itself.",
    card_alerts: "Active alerts",
    alerts_active: "Firing now",
    alerts_none_active: "No alert is firing.",
    alerts_history: "History",
    alerts_history_empty: "No alert has fired yet.",
    rule_node_offline: "Slave offline",
    alert_firing: "firing",
    alert_resolved: "resolved",
    col_alert: "Alert",
    col_fired: "Fired (UTC)",
    col_resolved: "Resolved (UTC)",
    col_duration: "Duration",
    resolution_online: "back online",
    resolution_revoked: "revoked",
    alert_toast: "Alert: {name} (slave {id}) is offline.",
    alert_toast_link: "View alerts",
    dismiss: "Dismiss",
};

/// Simplified Chinese.
pub static ZH_CN: Messages = Messages {
    brand: "Commander",
    nav_home: "首页",
    nav_slaves: "节点",
    nav_docker: "Docker",
    nav_records: "记录",
    nav_data: "数据管理",
    nav_account: "账户",
    logout: "退出登录",
    signed_in_as: "当前用户",
    language: "语言",
    skip_to_content: "跳到正文",
    home_title: "概览",
    card_online: "在线节点",
    card_enrolled: "已注册节点",
    card_revoked: "已吊销节点",
    slaves_title: "节点",
    no_slaves: "还没有节点：运行",
    col_id: "ID",
    col_host: "主机",
    col_status: "状态",
    col_last_seen: "最近心跳",
    col_cpu: "CPU",
    col_memory: "内存",
    col_load: "负载",
    col_tcp: "TCP 连接",
    agent: "代理",
    status_online: "在线",
    status_offline: "离线",
    status_revoked: "已吊销",
    docker_title: "Docker 引擎",
    docker_version: "Docker 版本",
    docker_not_installed: "未安装",
    docker_not_reported: "尚未上报",
    docker_note: "选择一个节点以管理其引擎、容器、镜像、网络和卷。",
    data_title: "数据管理",
    data_database: "数据库",
    data_size: "磁盘占用",
    data_env_data: "集群记录（data）",
    data_env_performance: "指标样本（performance）",
    data_note: "控制台永远不会重置用户账户。此处的每项操作都会写入审计日志。",
    data_compact_scheduled: "已于 {when} 安排压缩：将在主控下次启动时执行。",
    data_compact_cancel: "取消已安排的压缩",
    data_compact_cancelled: "已取消安排的压缩。",
    data_compact_last: "上次压缩（{when}）：",
    data_compact_failed: "压缩失败，文件未改变：",
    data_compact_offline: "如需立即压缩，请停止主控并运行：commander db compact --data-dir DIR",
    records_title: "记录",
    audit_title: "审计日志",
    filter_user: "用户",
    filter_action: "操作",
    filter_result: "结果",
    filter_since: "开始时间",
    filter_until: "结束时间",
    filter_apply: "筛选",
    filter_reset: "重置",
    filter_any: "全部",
    col_time: "时间（UTC）",
    col_user: "用户",
    col_action: "操作",
    col_target: "对象",
    col_client: "客户端",
    col_result: "结果",
    col_detail: "详情",
    result_ok: "成功",
    result_failed: "失败",
    result_denied: "拒绝",
    audit_empty: "没有匹配的记录。",
    page_older: "更早",
    page_newest: "最新",
    times_utc: "时间为 UTC，例如 2024-02-29T12:00。",
    login_title: "登录",
    username: "用户名",
    password: "密码",
    login_button: "登录",
    register_title: "创建管理员账户",
    register_intro: "这是此主控节点的首次启动。请创建管理它的账户；之后注册将永久关闭。",
    password_confirm: "再次输入密码",
    register_button: "创建账户",
    password_rule: "至少 10 个字符，且至少包含两类字符（字母、数字、符号）。",
    account_title: "账户",
    change_password: "修改密码",
    current_password: "当前密码",
    new_password: "新密码",
    change_button: "修改密码",
    password_changed: "密码已修改，其他会话均已退出。",
    language_saved: "语言已保存。",
    err_credentials: "用户名或密码错误。",
    err_locked: "此地址登录失败次数过多，请 {minutes} 分钟后再试。",
    err_form_expired: "表单已过期，请重试。",
    err_mismatch: "两次输入的密码不一致。",
    err_registration_closed: "注册已关闭：管理员账户已存在。",
    err_current_password: "当前密码错误。",
    err_internal: "服务器出错，详情见主控节点日志。",
    err_login_in_flight: "此地址或此用户的另一次登录正在校验中，请稍后再试。",
    err_login_busy: "服务器正忙于校验其他登录，请稍后再试。",
    err_username_length: "用户名长度须为 1 到 64 个字符。",
    err_username_characters: "用户名只能包含字母、数字、“.”、“_”和“-”，且以字母或数字开头。",
    err_password_short: "密码至少需要 10 个字符。",
    err_password_long: "密码过长（最多 1024 字节）。",
    err_password_kinds: "密码至少需要两类字符：小写字母、大写字母、数字、符号。",
    err_password_repetitive: "密码至少需要五个不同的字符。",
    err_password_username: "密码不能包含用户名。",
    err_password_common: "此密码过于常见。",
    error_back: "返回控制台",
    detail_title: "节点",
    back_to_slaves: "← 全部节点",
    host_title: "主机信息",
    host_os: "操作系统",
    host_kernel: "内核",
    host_arch: "架构",
    host_cpu: "处理器",
    host_cores: "逻辑 CPU 数",
    host_memory: "内存",
    host_swap: "交换空间",
    host_booted: "启动于",
    host_not_reported: "该节点尚未上报主机信息。",
    disks_title: "磁盘",
    col_mount: "挂载点",
    col_device: "设备",
    col_fs: "文件系统",
    col_size: "容量",
    col_used: "已用",
    now_title: "当前",
    charts_title: "实时指标",
    chart_cpu: "CPU（%）",
    chart_memory: "内存（%）",
    chart_network: "网络（每秒）",
    chart_disk: "磁盘使用率（%）",
    series_memory: "内存",
    series_swap: "交换",
    series_rx: "接收",
    series_tx: "发送",
    live_waiting: "正在连接…",
    live_on: "实时",
    live_off: "连接中断，正在重试…",
    live_ended: "会话已结束，请重新登录。",
    last_sample: "最近样本",
    samples_received: "个样本已接收",
    err_no_slave: "没有此 ID 的节点。",
    search_label: "搜索节点",
    search_placeholder: "主机名、ID 或状态",
    search_button: "搜索",
    search_clear: "清除",
    page_prev: "← 上一页",
    page_next: "下一页 →",
    page_status: "第 {from}–{to} 条，共 {total} 条",
    no_match: "没有匹配的节点。",
    view_all: "全部节点 →",
    data_compact_title: "压缩",
    data_compact_intro: "主控运行期间无法缩小数据库文件（LMDB 会复用空闲页，文件不再增长）。压缩会先用一份随后删除的压缩副本测算可回收的空间，并在主控下次启动时重写文件。",
    data_compact_button: "测算并安排压缩",
    data_compacted: "压缩后",
    data_reclaimable: "可回收",
    data_took: "耗时",
    data_backup_title: "备份",
    data_backup_intro: "下载在主控运行时获取的数据库一致性副本；恢复时将其作为 data.mdb 放入空目录。data 数据库包含密码哈希和会话：请妥善保管该文件。",
    data_backup_data: "下载 data 数据库",
    data_backup_performance: "下载 performance 数据库",
    data_reset_title: "按类别重置",
    data_reset_intro: "永久删除记录。用户账户永远不会被重置。",
    data_category: "类别",
    data_cat_samples: "指标样本（所有节点）",
    data_cat_audit: "审计日志",
    data_older_than: "早于（天；0 = 全部）",
    data_reset_button: "重置…",
    data_confirm_title: "确认重置",
    data_confirm_samples: "删除所有节点早于 {days} 天的指标样本？",
    data_confirm_samples_all: "删除所有节点的全部指标样本？",
    data_confirm_audit: "删除早于 {days} 天的审计日志？",
    data_confirm_audit_all: "删除全部审计日志？（本次重置本身会被记录。）",
    data_irreversible: "此操作无法撤销。用户账户不受影响。",
    data_confirm_button: "确认删除",
    cancel: "取消",
    data_reset_done: "已删除 {n} 条记录。",
    data_compact_done: "测算完成。主控将在下次启动时压缩数据库。",
    busy: "处理中…",
    err_category: "请选择指标样本或审计日志。用户账户永远不会被重置。",
    err_days: "天数须为 0 到 36500 之间的整数。",
    err_data_busy: "另一项数据操作正在进行，请稍后再试。",
    err_backend: "主控节点无法完成此操作：",
    nav_alerts: "告警",
    alerts_title: "告警",
    alerts_note: "内置规则：节点停止发送心跳（TTL 与宽限期均已过）时触发“节点离线”，节点恢复后自动解除。吊销节点不算告警。本页会自动更新。",
    card_alerts: "活动告警",
    alerts_active: "正在告警",
    alerts_none_active: "当前没有告警。",
    alerts_history: "历史",
    alerts_history_empty: "尚未触发过告警。",
    rule_node_offline: "节点离线",
    alert_firing: "告警中",
    alert_resolved: "已恢复",
    col_alert: "告警",
    col_fired: "触发时间（UTC）",
    col_resolved: "恢复时间（UTC）",
    col_duration: "持续时间",
    resolution_online: "已重新上线",
    resolution_revoked: "已吊销",
    alert_toast: "告警：{name}（节点 {id}）已离线。",
    alert_toast_link: "查看告警",
    dismiss: "关闭",
};

impl Messages {
    /// The label of a node status (`online`, `offline`, `revoked`).
    pub fn status(&self, status: &str) -> &'static str {
        match status {
            "online" => self.status_online,
            "revoked" => self.status_revoked,
            _ => self.status_offline,
        }
    }

    /// The label of an audit result (`ok`, `failed`, `denied`).
    pub fn result(&self, result: &str) -> &'static str {
        match result {
            "ok" => self.result_ok,
            "denied" => self.result_denied,
            _ => self.result_failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn catalogues_are_complete_and_distinct() {
        let en = EN.all();
        let zh = ZH_CN.all();
        assert_eq!(en.len(), zh.len());
        for ((name, e), (_, z)) in en.iter().zip(&zh) {
            assert!(!e.is_empty() && !z.is_empty(), "{name} is empty");
        }
        assert!(EN.err_locked.contains("{minutes}"));
        assert!(ZH_CN.err_locked.contains("{minutes}"));
    }

    #[test]
    fn tags_and_accept_language() {
        assert_eq!(Lang::parse("zh-Hans-CN"), Some(Lang::ZhCn));
        assert_eq!(Lang::parse("EN-gb"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr-FR, zh-CN;q=0.8, en;q=0.5"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::ZhCn);
        assert_eq!(serde_json::to_string(&Lang::ZhCn).unwrap(), "\"zh-CN\"");
    }
}

//! Strings of the notification channel pages, in English and Simplified Chinese. Like
//! [`crate::i18n::Messages`], the catalogue is a struct, so a missing translation is a
//! compile error. The channels script receives it as JSON (`data-labels`) for the test
//! button's answer. `{name}`-style placeholders are filled in by the handlers.

use serde::Serialize;

use crate::i18n::Lang;

macro_rules! channels_catalogue {
    ($( $field:ident ),* $(,)?) => {
        /// Every string of the channel pages, in one language.
        #[derive(Debug, Serialize)]
        pub struct ChannelsText {
            $(
                #[doc = concat!("The `", stringify!($field), "` message.")]
                pub $field: &'static str,
            )*
        }

        impl ChannelsText {
            /// `(field name, text)` of every message (tests check none is empty).
            pub fn all(&self) -> Vec<(&'static str, &'static str)> {
                vec![$( (stringify!($field), self.$field), )*]
            }
        }
    };
}

channels_catalogue! {
    title, intro, new_channel, empty, col_name, col_type, col_target, col_secret,
    col_actions, set, not_set, test, testing, edit, delete, type_webhook, type_email,
    type_dingtalk, type_wecom, type_feishu, deliveries_title, deliveries_empty,
    deliveries_note, col_time, col_channel, col_rule, col_status, col_outcome, col_attempts,
    col_error, status_firing, status_resolved, outcome_pending, outcome_delivered,
    outcome_failed, test_label, test_delivered, test_failed, unknown_channel,
    new_title, edit_title, f_name, f_name_hint, f_type, f_url, f_url_hint, f_url_keep,
    f_secret, f_secret_hint, f_secret_keep, f_host, f_port, f_port_hint, f_security,
    sec_starttls, sec_tls, sec_none, f_username, f_password, f_password_keep, f_from, f_to,
    f_to_hint, create_button, save_button, cancel, form_error, err_port,
    confirm_title, confirm_delete, confirm_button, back, done_created, done_saved,
    done_deleted, err_not_found, err_conflict, err_store,
}

/// The catalogue of `lang`.
pub fn channels_text(lang: Lang) -> &'static ChannelsText {
    match lang {
        Lang::En => &EN,
        Lang::ZhCn => &ZH_CN,
    }
}

/// English.
pub static EN: ChannelsText = ChannelsText {
    title: "Notification channels",
    intro: "Where alert notifications go: signed webhooks, email, DingTalk, WeCom and Feishu robots. Each delivery is retried with backoff and recorded below.",
    new_channel: "New channel",
    empty: "No channel yet.",
    col_name: "Name",
    col_type: "Type",
    col_target: "Destination",
    col_secret: "Secret",
    col_actions: "Actions",
    set: "set",
    not_set: "not set",
    test: "Send test",
    testing: "Sending…",
    edit: "Edit",
    delete: "Delete",
    type_webhook: "Webhook",
    type_email: "Email",
    type_dingtalk: "DingTalk",
    type_wecom: "WeCom",
    type_feishu: "Feishu",
    deliveries_title: "Recent deliveries",
    deliveries_empty: "Nothing delivered yet.",
    deliveries_note: "The newest deliveries since the master started, tests included.",
    col_time: "Queued (UTC)",
    col_channel: "Channel",
    col_rule: "Rule",
    col_status: "Status",
    col_outcome: "Outcome",
    col_attempts: "Attempts",
    col_error: "Last error",
    status_firing: "firing",
    status_resolved: "resolved",
    outcome_pending: "pending",
    outcome_delivered: "delivered",
    outcome_failed: "failed",
    test_label: "test",
    test_delivered: "Test notification to {name} delivered.",
    test_failed: "Test notification to {name} failed:",
    unknown_channel: "unknown",
    new_title: "New channel",
    edit_title: "Edit channel {name}",
    f_name: "Name",
    f_name_hint: "1 to 64 characters: letters, digits, '_', '.' and '-'. It cannot change later.",
    f_type: "Type",
    f_url: "Webhook URL",
    f_url_hint: "http:// or https://, e.g. the robot's address with its access token.",
    f_url_keep: "Leave empty to keep the stored URL (shown: {origin}).",
    f_secret: "Signing secret",
    f_secret_hint: "Webhook: HMAC key of X-Commander-Signature. DingTalk: the robot's SEC… secret. Feishu: optional.",
    f_secret_keep: "A secret is stored: leave empty to keep it.",
    f_host: "SMTP host",
    f_port: "SMTP port",
    f_port_hint: "Empty: 587 for STARTTLS, 465 for TLS, 25 for none.",
    f_security: "Security",
    sec_starttls: "STARTTLS (required)",
    sec_tls: "TLS (SMTPS)",
    sec_none: "None (loopback host only)",
    f_username: "SMTP user name",
    f_password: "SMTP password",
    f_password_keep: "A password is stored: leave empty to keep it.",
    f_from: "From",
    f_to: "To",
    f_to_hint: "One address per line, 1 to 32.",
    create_button: "Create channel",
    save_button: "Save",
    cancel: "Cancel",
    form_error: "Not saved:",
    err_port: "the port must be a number in 1..=65535",
    confirm_title: "Delete channel",
    confirm_delete: "Delete channel {name}? Rules that name it will record failed deliveries.",
    confirm_button: "Delete",
    back: "All channels",
    done_created: "Channel created.",
    done_saved: "Channel saved.",
    done_deleted: "Channel deleted.",
    err_not_found: "Not found:",
    err_conflict: "Conflict:",
    err_store: "The master could not read or write its store; try again.",
};

/// Simplified Chinese.
pub static ZH_CN: ChannelsText = ChannelsText {
    title: "通知渠道",
    intro: "告警通知的去向：签名的 Webhook、电子邮件、钉钉、企业微信和飞书机器人。每次投递失败会退避重试，并记录在下方。",
    new_channel: "新建渠道",
    empty: "还没有渠道。",
    col_name: "名称",
    col_type: "类型",
    col_target: "目标",
    col_secret: "密钥",
    col_actions: "操作",
    set: "已设置",
    not_set: "未设置",
    test: "发送测试",
    testing: "发送中…",
    edit: "编辑",
    delete: "删除",
    type_webhook: "Webhook",
    type_email: "电子邮件",
    type_dingtalk: "钉钉",
    type_wecom: "企业微信",
    type_feishu: "飞书",
    deliveries_title: "最近的投递",
    deliveries_empty: "还没有投递。",
    deliveries_note: "主控启动以来最新的投递记录，包括测试。",
    col_time: "入队时间（UTC）",
    col_channel: "渠道",
    col_rule: "规则",
    col_status: "状态",
    col_outcome: "结果",
    col_attempts: "尝试次数",
    col_error: "最后错误",
    status_firing: "告警中",
    status_resolved: "已恢复",
    outcome_pending: "等待中",
    outcome_delivered: "已送达",
    outcome_failed: "失败",
    test_label: "测试",
    test_delivered: "发往 {name} 的测试通知已送达。",
    test_failed: "发往 {name} 的测试通知失败：",
    unknown_channel: "未知",
    new_title: "新建渠道",
    edit_title: "编辑渠道 {name}",
    f_name: "名称",
    f_name_hint: "1 到 64 个字符：字母、数字、'_'、'.' 和 '-'。创建后不能修改。",
    f_type: "类型",
    f_url: "Webhook 地址",
    f_url_hint: "http:// 或 https://，例如带访问令牌的机器人地址。",
    f_url_keep: "留空则保留已保存的地址（显示为 {origin}）。",
    f_secret: "签名密钥",
    f_secret_hint: "Webhook：X-Commander-Signature 的 HMAC 密钥。钉钉：机器人的 SEC… 密钥。飞书：可选。",
    f_secret_keep: "已保存密钥：留空则保留。",
    f_host: "SMTP 主机",
    f_port: "SMTP 端口",
    f_port_hint: "留空：STARTTLS 为 587，TLS 为 465，无加密为 25。",
    f_security: "加密方式",
    sec_starttls: "STARTTLS（必需）",
    sec_tls: "TLS（SMTPS）",
    sec_none: "无（仅限本机回环地址）",
    f_username: "SMTP 用户名",
    f_password: "SMTP 密码",
    f_password_keep: "已保存密码：留空则保留。",
    f_from: "发件人",
    f_to: "收件人",
    f_to_hint: "每行一个地址，1 到 32 个。",
    create_button: "创建渠道",
    save_button: "保存",
    cancel: "取消",
    form_error: "未保存：",
    err_port: "端口必须是 1 到 65535 之间的数字",
    confirm_title: "删除渠道",
    confirm_delete: "删除渠道 {name}？引用它的规则将记录投递失败。",
    confirm_button: "删除",
    back: "全部渠道",
    done_created: "渠道已创建。",
    done_saved: "渠道已保存。",
    done_deleted: "渠道已删除。",
    err_not_found: "未找到：",
    err_conflict: "冲突：",
    err_store: "主控无法读写其存储，请重试。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_are_complete_and_differ() {
        let (en, zh) = (EN.all(), ZH_CN.all());
        assert_eq!(en.len(), zh.len());
        for (name, text) in en.iter().chain(&zh) {
            assert!(!text.trim().is_empty(), "{name} is empty");
        }
        assert_ne!(EN.title, ZH_CN.title);
    }
}

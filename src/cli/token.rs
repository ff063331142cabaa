//! `sohoa token …`: the API's bearer tokens.

use std::path::Path;

use clap::Subcommand;

use crate::store::tokens::AccessRole;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Make a token and print it (once: only its hash is kept).
    Create {
        /// station (upload only), clerk (read, attach, fix), supervisor (read, report) or admin.
        #[arg(long, value_parser = ["station", "clerk", "supervisor", "admin"])]
        role: String,
        /// Limit the token to one unit's cases (a district center sees only its own).
        #[arg(long)]
        unit: Option<String>,
        /// What or who it is for; audit events name it.
        #[arg(long, default_value = "")]
        label: String,
        /// Days until it stops working; default: until revoked.
        #[arg(long)]
        days: Option<u32>,
    },
    /// Every token (never the secrets).
    List,
    /// Stop a token from working.
    Revoke {
        /// The token's id, from `token list`.
        id: String,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    // An import or a first token sets a station up; everything else needs records already there.
    let d = if matches!(c, Command::Create { .. }) {
        super::create_data(data).await?
    } else {
        super::open_data(data).await?
    };
    match c {
        Command::Create { role, unit, label, days } => {
            let role = AccessRole::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role {role}"))?;
            let expires = days.map(|n| {
                crate::util::time::iso(
                    ::time::OffsetDateTime::now_utc() + ::time::Duration::days(i64::from(n)),
                    crate::util::time::VIETNAM,
                )
            });
            let unit = unit.map(|u| crate::util::text::nfc(u.trim()));
            let label = crate::util::text::nfc(label.trim());
            let (row, secret) = d
                .records
                .create_token(role, unit.as_deref(), &label, expires.as_deref(), &super::actor(), &super::now())
                .await?;
            let (id, role) = (row.id.clone(), row.role);
            let unit_vi = row.unit.as_deref().map(|u| format!(", đơn vị {u}")).unwrap_or_default();
            let unit_en = row.unit.as_deref().map(|u| format!(", unit {u}")).unwrap_or_default();
            let until_vi = row.expires_at.as_deref().map(|e| format!(", đến {e}")).unwrap_or_default();
            let until_en = row.expires_at.as_deref().map(|e| format!(", until {e}")).unwrap_or_default();
            eprintln!(
                "{}",
                crate::util::lang::say(
                    format!("mã truy cập {id} ({role}{unit_vi}{until_vi}); hãy giữ kỹ, mã chỉ hiện một lần:"),
                    format!("token {id} ({role}{unit_en}{until_en}); keep it safe, it is not shown again:"),
                )
            );
            println!("{secret}");
            Ok(0)
        }
        Command::List => {
            for t in d.records.tokens().await? {
                println!(
                    "{}  {:<10} {:<14} {}{}{}",
                    t.id,
                    t.role,
                    t.unit.as_deref().unwrap_or("all units"),
                    t.label,
                    t.expires_at.as_deref().map(|e| format!("  until {e}")).unwrap_or_default(),
                    t.revoked_at.as_deref().map(|r| format!("  REVOKED {r}")).unwrap_or_default(),
                );
            }
            Ok(0)
        }
        Command::Revoke { id } => {
            if d.records.revoke_token(id.trim(), &super::actor(), &super::now()).await? {
                println!("token {id} revoked");
                Ok(0)
            } else {
                anyhow::bail!("no live token {id}; `sohoa token list` shows them")
            }
        }
    }
}

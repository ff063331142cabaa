//! API tokens: who may call the HTTP API, in which role, limited to which unit. Only a token's SHA-256
//! is stored; the token itself is shown once, when it is made.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Records;
use super::db::on_pool;
use super::records::{insert_event, new_id};
use crate::error::Result;

stored_words! {
    /// What a token may do.
    pub enum AccessRole {
        /// Upload scans, nothing else.
        Station = "station",
        /// Read cases, attach and fix.
        Clerk = "clerk",
        /// Read cases (without personal data) and reports.
        Supervisor = "supervisor",
        /// Everything, tokens and procedures included.
        Admin = "admin",
    }
}

/// A token as stored (without the secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenRow {
    /// Token id, for listing and revoking.
    pub id: String,
    /// What it may do.
    #[sqlx(try_from = "String")]
    pub role: AccessRole,
    /// The one unit it may see, when limited.
    pub unit: Option<String>,
    /// What it is for.
    pub label: String,
    /// When made.
    pub created_at: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
    /// When revoked.
    pub revoked_at: Option<String>,
}

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Records {
    /// Makes a token; returns its row and the secret, which is not stored and cannot be shown again.
    pub async fn create_token(
        &self,
        role: AccessRole,
        unit: Option<&str>,
        label: &str,
        expires_at: Option<&str>,
        actor: &str,
        at: &str,
    ) -> Result<(TokenRow, String)> {
        let secret = format!("sohoa_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let row = TokenRow {
            id: new_id(),
            role,
            unit: unit.map(str::to_string),
            label: label.into(),
            created_at: at.into(),
            expires_at: expires_at.map(str::to_string),
            revoked_at: None,
        };
        let mut tx = self.pool().begin_write().await?;
        crate::store::db::on_tx!(&mut tx, |c| {
            sqlx::query(
            "INSERT INTO tokens (id, sha256, role, unit, label, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(&row.id)
        .bind(token_hash(&secret))
        .bind(row.role.as_str())
        .bind(&row.unit)
        .bind(&row.label)
        .bind(&row.created_at)
        .bind(&row.expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected()
        });
        let detail = serde_json::json!({ "token": row.id, "role": row.role, "unit": row.unit, "label": row.label });
        insert_event(&mut tx, at, actor, "token-create", None, None, None, None, &detail).await?;
        tx.commit().await?;
        Ok((row, secret))
    }

    /// The live token with this secret: not revoked, not expired at `now`.
    pub async fn find_token(&self, secret: &str, now: &str) -> Result<Option<TokenRow>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id, role, unit, label, created_at, expires_at, revoked_at FROM tokens \
             WHERE sha256 = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)"
        )
        .bind(token_hash(secret))
        .bind(now)
        .fetch_optional(p)
        .await?))
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        Ok(on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT id, role, unit, label, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at DESC, id DESC"
        )
        .fetch_all(p)
        .await?
        }))
    }

    /// Revokes a token; false when there is no live token with that id.
    pub async fn revoke_token(&self, id: &str, actor: &str, at: &str) -> Result<bool> {
        let mut tx = self.pool().begin_write().await?;
        let n = crate::store::db::on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        )
        .bind(at)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        if n > 0 {
            let detail = serde_json::json!({ "token": id });
            insert_event(&mut tx, at, actor, "token-revoke", None, None, None, None, &detail).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }
}

//! `device invite`, `device rotate`, `device list` and `tenant list`: enrolment by code and
//! what the operator sees of devices (`docs/operations.md`, "Enrolling phones").

use super::{print_json, resolve_tenant, rfc3339};
use anyhow::{anyhow, Context as _};
use outpost_server::enrol;
use outpost_server::{Device, Role, Storage};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// Pixels per QR module, and the quiet zone around the code in modules.
const QR_SCALE: usize = 8;
const QR_QUIET: usize = 4;

/// A duration like `24h`, `30m`, `7d` or `90s`, in ms.
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = number.parse().map_err(|_| {
        anyhow!("--expires {text:?}: give a number and a unit, like 24h, 30m or 7d")
    })?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" | "" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(anyhow!(
                "--expires {text:?}: unknown unit {other:?} (s, m, h or d)"
            ))
        }
    };
    n.checked_mul(unit_ms)
        .ok_or_else(|| anyhow!("--expires {text:?}: too long"))
}

/// `device invite`: prints {code, tenant_id, user, role, expires_at} and, with `qr`, writes the
/// code and the server's address as a QR code PNG (`outpost://enroll?server=URL&code=CODE`).
pub async fn invite(
    storage: &dyn Storage,
    tenant: &str,
    user: &str,
    role: Role,
    expires: &str,
    qr: Option<(&Path, &str)>,
) -> anyhow::Result<()> {
    let tenant_id = resolve_tenant(storage, tenant).await?;
    if let Some((_, server)) = qr {
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(anyhow!(
                "--server {server:?}: the address phones reach this server at, an http:// or https:// URL"
            ));
        }
    }
    let ttl = parse_duration(expires)?;
    let now = chrono::Utc::now().timestamp_millis();
    let invitation = enrol::invite(storage, &tenant_id, user, role, ttl, now).await?;
    let mut out = json!({
        "code": invitation.code,
        "tenant_id": invitation.tenant_id,
        "user": invitation.user,
        "role": invitation.role,
        "expires_at": rfc3339(Some(invitation.expires_at_ms)),
    });
    if let Some((file, server)) = qr {
        let link = format!(
            "outpost://enroll?server={}&code={}",
            percent_encode(server.trim_end_matches('/')),
            invitation.code
        );
        write_qr(file, &link)?;
        out["qr"] = json!(file.display().to_string());
        out["link"] = json!(link);
    }
    print_json(&out)
}

/// Percent-encodes what a URL query value may not hold as it is.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Writes `text` as a black-on-white QR code PNG.
fn write_qr(file: &Path, text: &str) -> anyhow::Result<()> {
    let code = qrcode::QrCode::new(text.as_bytes()).context("making the QR code")?;
    let width = code.width();
    let colors = code.to_colors();
    let side = (width + 2 * QR_QUIET) * QR_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color != qrcode::Color::Dark {
            continue;
        }
        let (x, y) = (i % width + QR_QUIET, i / width + QR_QUIET);
        for dy in 0..QR_SCALE {
            let row = (y * QR_SCALE + dy) * side;
            pixels[row + x * QR_SCALE..row + (x + 1) * QR_SCALE].fill(0);
        }
    }
    let out = std::fs::File::create(file)
        .with_context(|| format!("--qr {}: cannot write", file.display()))?;
    let side = u32::try_from(side).context("QR code too large")?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(out), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .with_context(|| format!("--qr {}", file.display()))?;
    writer
        .write_image_data(&pixels)
        .with_context(|| format!("--qr {}", file.display()))?;
    writer
        .finish()
        .with_context(|| format!("--qr {}", file.display()))?;
    Ok(())
}

/// `device rotate`: prints {device_id, token}; the old token stops at once.
pub async fn rotate(storage: &dyn Storage, device_id: &str) -> anyhow::Result<()> {
    let enrollment = enrol::rotate(storage, device_id).await?;
    print_json(&json!({ "device_id": enrollment.device_id, "token": enrollment.token }))
}

/// One device as `device list` and `device revoke` print it.
pub fn device_json(d: &Device) -> serde_json::Value {
    json!({
        "device_id": d.id,
        "tenant_id": d.tenant_id,
        "user": d.user_id,
        "role": d.role,
        "created_at": rfc3339(Some(d.created_at_ms)),
        "revoked_at": rfc3339(d.revoked_at_ms),
        "last_seen_at": rfc3339(d.last_seen_at_ms),
    })
}

/// `device list`: the tenant's devices with what each reported at its last sync.
pub async fn list(storage: &dyn Storage, tenant: &str) -> anyhow::Result<()> {
    let tenant_id = resolve_tenant(storage, tenant).await?;
    let devices = storage.list_devices(&tenant_id).await?;
    let reports: HashMap<String, _> = storage
        .device_reports(&tenant_id)
        .await?
        .into_iter()
        .collect();
    let rows = devices
        .iter()
        .map(|d| {
            let mut row = device_json(d);
            let report = reports.get(&d.id);
            row["last_sync_at"] = json!(rfc3339(report.map(|r| r.synced_at_ms)));
            row["app_version"] = json!(report.and_then(|r| r.app_version.clone()));
            row["outbox"] = json!(report.and_then(|r| r.outbox));
            row
        })
        .collect();
    print_json(&serde_json::Value::Array(rows))
}

/// `tenant list`: every tenant with its device count.
pub async fn tenants(storage: &dyn Storage) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for t in storage.list_tenants().await? {
        let devices = storage.list_devices(&t.id).await?;
        let active = devices.iter().filter(|d| d.revoked_at_ms.is_none()).count();
        rows.push(json!({
            "id": t.id,
            "name": t.name,
            "created_at": rfc3339(Some(t.created_at_ms)),
            "log_head": t.log_head,
            "devices": active,
            "sharing": storage.access_config(&t.id).await?.sharing,
        }));
    }
    print_json(&serde_json::Value::Array(rows))
}

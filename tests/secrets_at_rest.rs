//! Secrets at rest: what Mergecast stores in Postgres is sealed, readable back only with the
//! key, refused without one, and re-sealed under a new key by `mergecast secrets rotate`.

use base64::Engine;
use mergecast::config::seal::{Keyring, SealError};
use mergecast::ids::InstallationId;
use mergecast::store::secrets::{self, SecretError, SecretName, SecretOwner};
use sqlx::PgPool;

const KEY_A: [u8; 32] = [0x11; 32];
const KEY_B: [u8; 32] = [0x22; 32];

const PRIVATE_KEY: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtest\n-----END RSA PRIVATE KEY-----\n";
const WEBHOOK_SECRET: &str = "whsec-correct-horse-battery-staple";
const CLIENT_SECRET: &str = "0123456789abcdef0123456789abcdef01234567";
const SLACK_TOKEN: &str = "xoxb-1111-2222-abcdefghijklmnop";

const ORG: SecretOwner = SecretOwner::Installation(InstallationId(4242));

fn stored() -> [(SecretOwner, SecretName, &'static str); 4] {
    [
        (SecretOwner::App, SecretName::GithubPrivateKey, PRIVATE_KEY),
        (
            SecretOwner::App,
            SecretName::GithubWebhookSecret,
            WEBHOOK_SECRET,
        ),
        (
            SecretOwner::App,
            SecretName::GithubClientSecret,
            CLIENT_SECRET,
        ),
        (ORG, SecretName::SlackBotToken, SLACK_TOKEN),
    ]
}

async fn store_all(pool: &PgPool, keyring: &Keyring) {
    for (owner, name, value) in stored() {
        secrets::put(pool, Some(keyring), owner, name, value.as_bytes())
            .await
            .unwrap();
    }
}

/// Every row of every table in the schema, as Postgres prints it (bytea as `\x…` hex).
async fn dump(pool: &PgPool) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = String::new();
    for table in tables {
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT CAST(t AS text) FROM \"{table}\" t"))
                .fetch_all(pool)
                .await
                .unwrap();
        for row in rows {
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

/// The forms a secret could take in a dump: as is, hex (bytea), base64.
fn forms(secret: &str) -> Vec<String> {
    let core = &secret[..secret.len().min(24)];
    vec![
        core.to_owned(),
        hex::encode(core.as_bytes()),
        base64::engine::general_purpose::STANDARD.encode(core.as_bytes())[..16].to_owned(),
    ]
}

#[sqlx::test]
async fn no_stored_secret_is_in_clear_and_each_opens_with_the_key(pool: PgPool) {
    let keyring = Keyring::from_keys(&KEY_A, &[]);
    store_all(&pool, &keyring).await;

    let dump = dump(&pool).await;
    assert!(
        dump.contains(&keyring.current_id()),
        "the dump reads the table"
    );
    for (_, name, value) in stored() {
        for form in forms(value) {
            assert!(
                !dump.contains(&form),
                "{name:?} found in clear in the database as {form:?}"
            );
        }
    }
    for (owner, name, value) in stored() {
        let opened = secrets::get(&pool, Some(&keyring), owner, name)
            .await
            .unwrap();
        assert_eq!(opened.as_deref(), Some(value.as_bytes()));
    }
    assert_eq!(
        secrets::get(
            &pool,
            Some(&keyring),
            SecretOwner::App,
            SecretName::SlackBotToken
        )
        .await
        .unwrap(),
        None
    );
}

#[sqlx::test]
async fn a_sealed_value_moved_to_another_row_does_not_open(pool: PgPool) {
    let keyring = Keyring::from_keys(&KEY_A, &[]);
    store_all(&pool, &keyring).await;
    // Someone with write access to the table copies the org's Slack token over the app's
    // webhook secret: it must not open as the webhook secret.
    sqlx::query(
        "UPDATE sealed_secrets SET sealed = (SELECT sealed FROM sealed_secrets WHERE name = 'slack_bot_token')
         WHERE installation_id = 0 AND name = 'github_webhook_secret'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = secrets::get(
        &pool,
        Some(&keyring),
        SecretOwner::App,
        SecretName::GithubWebhookSecret,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            SecretError::Open {
                source: SealError::Tampered,
                ..
            }
        ),
        "{err}"
    );
}

#[sqlx::test]
async fn without_a_key_nothing_secret_is_stored(pool: PgPool) {
    let err = secrets::put(
        &pool,
        None,
        ORG,
        SecretName::SlackBotToken,
        SLACK_TOKEN.as_bytes(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SecretError::NoKey));
    assert!(
        err.to_string().contains("MERGECAST_ENCRYPTION_KEY"),
        "the message says what to set: {err}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sealed_secrets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    // And a value stored earlier does not read as "absent" once the key is gone.
    store_all(&pool, &Keyring::from_keys(&KEY_A, &[])).await;
    let err = secrets::get(&pool, None, ORG, SecretName::SlackBotToken)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        SecretError::Open {
            source: SealError::NoKey,
            ..
        }
    ));
}

#[sqlx::test]
async fn rotation_reseals_everything_under_the_new_key(pool: PgPool) {
    store_all(&pool, &Keyring::from_keys(&KEY_A, &[])).await;
    let before = dump(&pool).await;

    // The new key seals; the old one still opens what it sealed.
    let rotating = Keyring::from_keys(&KEY_B, &[KEY_A]);
    for (owner, name, value) in stored() {
        let opened = secrets::get(&pool, Some(&rotating), owner, name)
            .await
            .unwrap();
        assert_eq!(opened.as_deref(), Some(value.as_bytes()));
    }
    assert_eq!(secrets::rotate(&pool, &rotating).await.unwrap(), 4);
    assert_eq!(secrets::rotate(&pool, &rotating).await.unwrap(), 0);

    let key_ids: Vec<String> = sqlx::query_scalar("SELECT DISTINCT key_id FROM sealed_secrets")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(key_ids, vec![rotating.current_id()]);
    assert_ne!(dump(&pool).await, before);

    // Without the old key at all, everything still opens.
    let only_new = Keyring::from_keys(&KEY_B, &[]);
    for (owner, name, value) in stored() {
        let opened = secrets::get(&pool, Some(&only_new), owner, name)
            .await
            .unwrap();
        assert_eq!(opened.as_deref(), Some(value.as_bytes()));
    }
}

#[sqlx::test]
async fn the_rotate_command_reseals_and_refuses_without_a_key(pool: PgPool) {
    store_all(&pool, &Keyring::from_keys(&KEY_A, &[])).await;
    let options = pool.connect_options();
    let database = options.get_database().unwrap_or("postgres");
    let url = format!("postgres://postgres@127.0.0.1:5432/{database}");
    let run = |vars: &[(&str, String)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mergecast"));
        command
            .args(["secrets", "rotate"])
            .env_clear()
            .env("DATABASE_URL", &url);
        for (k, v) in vars {
            command.env(k, v);
        }
        command.output().unwrap()
    };

    let missing = run(&[]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("MERGECAST_ENCRYPTION_KEY"), "{stderr}");

    let done = run(&[
        ("MERGECAST_ENCRYPTION_KEY", hex::encode(KEY_B)),
        (
            "MERGECAST_ENCRYPTION_KEY_OLD",
            base64::engine::general_purpose::STANDARD.encode(KEY_A),
        ),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("re-sealed 4 secrets"));
    let stale: i64 = sqlx::query_scalar("SELECT count(*) FROM sealed_secrets WHERE key_id <> $1")
        .bind(Keyring::from_keys(&KEY_B, &[]).current_id())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stale, 0);
}

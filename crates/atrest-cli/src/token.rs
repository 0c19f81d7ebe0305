//! `atrest token create|list|revoke`: access tokens of `atrest serve`, kept (as hashes) in the store's
//! sealed catalog. Offline with --data (the server stopped: it owns the store while it runs), or through a
//! running server with --url and an admin token.

use atrest_server::auth::{self, Scope, TokenId, TokenInfo};
use atrest_store::Store;

use crate::output::outln;

/// What `atrest token` does.
#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Makes a token and prints it once (only its hash is kept). Default: read-write, every collection.
    Create {
        /// Reads only.
        #[arg(long)]
        read_only: bool,
        /// Only this collection (repeat for more).
        #[arg(long = "collection", value_name = "NAME")]
        collections: Vec<String>,
    },
    /// Lists tokens: id, rights, collections, creation time (never the tokens themselves).
    List,
    /// Revokes a token by id.
    Revoke {
        /// The token's id (16 hex digits, as listed).
        id: String,
    },
}

/// One token as a line of `token list`.
pub fn describe(t: &TokenInfo) -> String {
    let rights = if t.scope.read_only { "read-only" } else { "read-write" };
    let colls = if t.scope.all_collections() { "all collections".to_owned() } else { t.scope.collections.join(",") };
    let created = atrest_backup::layout::format_utc(t.created.saturating_mul(1000));
    format!("{}  {rights}  {colls}  created {created}", t.id)
}

/// Parses a token id argument.
pub fn parse_id(id: &str) -> Result<TokenId, String> {
    TokenId::parse(id).ok_or_else(|| format!("{id:?} is not a token id (16 hex digits, as `atrest token list` shows)"))
}

/// Prints a new token: the token alone on stdout (for `> file`), what it may do on stderr.
pub fn print_new(token: &str, info: &TokenInfo) {
    outln!("{token}");
    eprintln!("token {} (shown only now; keep it secret)", describe(info));
}

/// Runs a token command on an open store.
pub fn run(store: Store, cmd: TokenCommand) -> Result<(), String> {
    let e = |e: auth::TokenError| e.to_string();
    match cmd {
        TokenCommand::Create { read_only, collections } => {
            let new = auth::create_token(&store, Scope { read_only, collections }).map_err(e)?;
            store.close().map_err(|e| e.to_string())?;
            print_new(&new.token, &new.info);
        }
        TokenCommand::List => {
            for t in auth::list_tokens(&store).map_err(e)? {
                outln!("{}", describe(&t));
            }
        }
        TokenCommand::Revoke { id } => {
            let id = parse_id(&id)?;
            if !auth::revoke_token(&store, id).map_err(e)? {
                return Err(format!("no token {id}"));
            }
            store.close().map_err(|e| e.to_string())?;
            eprintln!("revoked token {id}");
        }
    }
    Ok(())
}

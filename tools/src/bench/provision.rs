//! Users and friendships for a benchmark, written straight to the store in
//! bulk (thousands per transaction), so a 20,000-user run starts in seconds
//! instead of registering each user through the gate and the mail.
//!
//! Users are `<prefix><i>` with the password `bench`, hashed once (at the
//! cheapest argon2id cost unless asked for another: a gate checks a hash at
//! the cost it was made with); a second run with the same prefix reuses them.

use services::gate::password::{self, HashCost};
use services::store::config::StoreConfig;
use services::store::model::NewUser;
use services::store::{AnyBackend, Backend, StoreConn};
use std::time::Instant;

/// The password of every benchmark user.
pub const PASSWORD: &str = "bench";
const BATCH: usize = 2000;

/// Returns the uids of users `<prefix>0 .. <prefix>(count-1)`, creating
/// those that do not exist; with `befriend`, users 2k and 2k+1 are friends.
pub fn users(
    store: &StoreConfig,
    prefix: &str,
    count: usize,
    befriend: bool,
) -> Result<Vec<u64>, String> {
    users_hashed_at(store, prefix, count, befriend, &HashCost::benchmark())
}

/// [`users`] with their password hashed at `cost`.
pub fn users_hashed_at(
    store: &StoreConfig,
    prefix: &str,
    count: usize,
    befriend: bool,
    cost: &HashCost,
) -> Result<Vec<u64>, String> {
    let started = Instant::now();
    let backend = AnyBackend::from_config(store)?;
    let mut conn = backend.connect().map_err(|e| e.to_string())?;
    let hash = password::hash(cost, PASSWORD)?;
    let mut uids = Vec::with_capacity(count);
    let mut created = 0;
    for start in (0..count).step_by(BATCH) {
        let end = (start + BATCH).min(count);
        // Reuse a batch that an earlier run created (it exists if its last user does).
        if conn.user_by_name(&format!("{prefix}{}", end - 1)).map_err(|e| e.to_string())?.is_some()
        {
            for i in start..end {
                let user = conn.user_by_name(&format!("{prefix}{i}")).map_err(|e| e.to_string())?;
                uids.push(user.ok_or(format!("{prefix}{i} is missing: use another --prefix"))?.uid);
            }
            continue;
        }
        let batch: Vec<NewUser> = (start..end)
            .map(|i| NewUser {
                name: format!("{prefix}{i}"),
                email: format!("{prefix}{i}@bench.invalid"),
                password_hash: hash.clone(),
                ..NewUser::default()
            })
            .collect();
        let new = conn.create_users(&batch).map_err(|e| format!("creating users: {e}"))?;
        if befriend {
            let pairs: Vec<(u64, u64)> = new.chunks_exact(2).map(|p| (p[0], p[1])).collect();
            conn.befriend_pairs(&pairs).map_err(|e| format!("making friends: {e}"))?;
        }
        created += new.len();
        uids.extend(new);
    }
    println!(
        "provisioned {count} users ({created} new{}) in {:.2} s",
        if befriend { ", pairs befriended" } else { "" },
        started.elapsed().as_secs_f64()
    );
    Ok(uids)
}

/// Makes a group of each run of `members` users in `uids`, created by its
/// first user with the others as its friends (befriended here unless they
/// are already), straight in the store: the group's id for each run.
pub fn groups(store: &StoreConfig, uids: &[u64], members: usize) -> Result<Vec<u64>, String> {
    use services::store::groups::GroupLimits;
    let started = Instant::now();
    let backend = AnyBackend::from_config(store)?;
    let mut conn = backend.connect().map_err(|e| e.to_string())?;
    let limits = GroupLimits { max_members: members, max_groups_per_user: usize::MAX };
    let mut made = Vec::new();
    for run in uids.chunks_exact(members) {
        let (owner, others) = (run[0], &run[1..]);
        if !conn.are_friends(owner, others[0]).map_err(|e| e.to_string())? {
            let pairs: Vec<(u64, u64)> = others.iter().map(|&m| (owner, m)).collect();
            for chunk in pairs.chunks(BATCH) {
                conn.befriend_pairs(chunk).map_err(|e| format!("making friends: {e}"))?;
            }
        }
        let name = format!("bench group of {members}");
        let group = conn
            .create_group(&limits, owner, &name, "", others)
            .map_err(|e| format!("creating a group: {e}"))?;
        made.push(group.group.thread_id);
    }
    println!(
        "{} group(s) of {members} made in {:.2} s",
        made.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(made)
}

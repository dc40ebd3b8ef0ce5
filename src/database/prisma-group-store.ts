/**
 * `GroupStore` over Prisma (PGlite and PostgreSQL alike), in raw SQL like the other stores:
 * creating a group is one statement, adding a member one short transaction that holds the
 * group's row so that two additions never both take the last place. Members and group ids are
 * sorted with COLLATE "C" (UTF-8 byte order, which is code-point order) whatever the database's
 * collation.
 */
import type { PrismaClient } from '../generated/prisma/client.ts';
import { groupConversationId } from '../protocol/conversation-ids.ts';
import type { AddMemberResult, CreateGroupResult, Group, GroupStore, NewGroup, RemoveMemberResult } from '../chat/group-store.ts';

/*
 * The group and its members in one statement: no row comes back when the id is taken (the
 * members are then not inserted either). Members at creation need no conversation position: the
 * group's conversation starts with them.
 */
const CREATE = `
WITH created AS (
  INSERT INTO chat_groups (id, name) VALUES ($1, $2)
  ON CONFLICT (id) DO NOTHING
  RETURNING id, created_at
),
members AS (
  INSERT INTO group_members (group_id, user_id)
  SELECT created.id, member FROM created, unnest($3::text[]) AS member
)
SELECT created_at FROM created`;

const GET = `
SELECT g.name, g.created_at,
       ARRAY(SELECT user_id FROM group_members WHERE group_id = g.id ORDER BY user_id COLLATE "C") AS members
FROM chat_groups g WHERE g.id = $1`;

const MEMBERS = `
SELECT ARRAY(SELECT user_id FROM group_members WHERE group_id = g.id ORDER BY user_id COLLATE "C") AS members
FROM chat_groups g WHERE g.id = $1`;

/**
 * Taken before counting: READ COMMITTED gives the next statement a fresh snapshot, so the count
 * includes an addition that held the lock before.
 */
const LOCK_GROUP = 'SELECT id FROM chat_groups WHERE id = $1 FOR UPDATE';

const MEMBERSHIP = `
SELECT count(*)::int AS members, COALESCE(bool_or(user_id = $2), false) AS member
FROM group_members WHERE group_id = $1`;

/**
 * The new member, and their position in the group's conversation at its current end: recovery
 * sends them what is stored after they joined, not the group's past (the history has it). A
 * position left from an earlier membership only moves forward.
 */
const ADD_MEMBER = `
WITH added AS (
  INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)
)
INSERT INTO conversation_positions AS p (user_id, conversation_id, seq)
SELECT $2, $3, COALESCE((SELECT last_seq FROM conversations WHERE id = $3), 0)
ON CONFLICT (user_id, conversation_id) DO UPDATE SET seq = GREATEST(p.seq, EXCLUDED.seq)`;

const REMOVE_MEMBER = `
WITH removed AS (
  DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 RETURNING user_id
)
SELECT EXISTS (SELECT 1 FROM removed) AS removed, EXISTS (SELECT 1 FROM chat_groups WHERE id = $1) AS group_exists`;

const GROUPS_OF = 'SELECT user_id, group_id FROM group_members WHERE user_id = ANY($1::text[]) ORDER BY group_id COLLATE "C"';

export class PrismaGroupStore implements GroupStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly maxMembers: number,
  ) {}

  async create(group: NewGroup): Promise<CreateGroupResult> {
    // Sorted like the members a read answers (code units: ids are ASCII, where that is code points).
    const members = [...new Set(group.members)].sort();
    if (members.length > this.maxMembers) return { refused: 'too_many_members' };
    const rows = await this.prisma.$queryRawUnsafe<Array<{ created_at: Date }>>(CREATE, group.id, group.name, members);
    const createdAt = rows[0]?.created_at;
    if (!createdAt) return { refused: 'exists' };
    return { created: { id: group.id, name: group.name, createdAt: createdAt.getTime(), members } };
  }

  async get(groupId: string): Promise<Group | undefined> {
    const [row] = await this.prisma.$queryRawUnsafe<Array<{ name: string; created_at: Date; members: string[] }>>(GET, groupId);
    return row && { id: groupId, name: row.name, createdAt: row.created_at.getTime(), members: row.members };
  }

  async addMember(groupId: string, userId: string): Promise<AddMemberResult> {
    return this.prisma.$transaction(async (tx) => {
      const locked = await tx.$queryRawUnsafe<unknown[]>(LOCK_GROUP, groupId);
      if (locked.length === 0) return 'no_group';
      const [membership] = await tx.$queryRawUnsafe<Array<{ members: number; member: boolean }>>(MEMBERSHIP, groupId, userId);
      if (membership!.member) return 'already_member';
      if (membership!.members >= this.maxMembers) return 'too_many_members';
      await tx.$executeRawUnsafe(ADD_MEMBER, groupId, userId, groupConversationId(groupId));
      return 'added';
    });
  }

  async removeMember(groupId: string, userId: string): Promise<RemoveMemberResult> {
    const [row] = await this.prisma.$queryRawUnsafe<Array<{ removed: boolean; group_exists: boolean }>>(REMOVE_MEMBER, groupId, userId);
    if (row!.removed) return 'removed';
    return row!.group_exists ? 'not_member' : 'no_group';
  }

  async groupsOf(userIds: readonly string[]): Promise<Map<string, string[]>> {
    const groups = new Map<string, string[]>();
    if (userIds.length === 0) return groups;
    const rows = await this.prisma.$queryRawUnsafe<Array<{ user_id: string; group_id: string }>>(GROUPS_OF, [...new Set(userIds)]);
    for (const row of rows) {
      const mine = groups.get(row.user_id);
      if (mine) mine.push(row.group_id);
      else groups.set(row.user_id, [row.group_id]);
    }
    return groups;
  }

  async membersOf(groupId: string): Promise<string[] | undefined> {
    const [row] = await this.prisma.$queryRawUnsafe<Array<{ members: string[] }>>(MEMBERS, groupId);
    return row?.members;
  }
}

/**
 * Persistent groups (guild, party, team chat): an id, a name and members. Their messages are the
 * conversation `group:<id>` of the message store.
 */

export interface Group {
  id: string;
  name: string;
  createdAt: number;
  /** userIds in code-point order. */
  members: string[];
}

export interface NewGroup {
  id: string;
  name: string;
  members: readonly string[];
}

export type CreateGroupResult = { created: Group } | { refused: 'exists' | 'too_many_members' };
export type AddMemberResult = 'added' | 'already_member' | 'no_group' | 'too_many_members';
export type RemoveMemberResult = 'removed' | 'not_member' | 'no_group';

export interface GroupStore {
  /** Creates the group with its members (duplicates ignored) at most `maxMembers`; one transaction. */
  create(group: NewGroup): Promise<CreateGroupResult>;
  get(groupId: string): Promise<Group | undefined>;
  /** Adds a member while the group has fewer than `maxMembers` (checked in the same transaction). */
  addMember(groupId: string, userId: string): Promise<AddMemberResult>;
  removeMember(groupId: string, userId: string): Promise<RemoveMemberResult>;
  /** The ids of each user's groups, in code-point order (a user in no group: absent), in one read. */
  groupsOf(userIds: readonly string[]): Promise<Map<string, string[]>>;
  /** The group's members, or undefined when there is no such group. */
  membersOf(groupId: string): Promise<string[] | undefined>;
}

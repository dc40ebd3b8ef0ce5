-- CreateTable
CREATE TABLE "users" (
    "id" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "last_spirit_gain_time" TIMESTAMPTZ(3),
    "last_login_at" TIMESTAMPTZ(3),
    "last_logout_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "player_sessions" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "node_id" TEXT NOT NULL,
    "epoch" BIGINT NOT NULL,
    "connected_at" TIMESTAMPTZ(3) NOT NULL,
    "disconnected_at" TIMESTAMPTZ(3),
    "reason" TEXT,

    CONSTRAINT "player_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "player_sessions_user_id_connected_at_idx" ON "player_sessions"("user_id", "connected_at");

-- CreateIndex
CREATE INDEX "player_sessions_disconnected_at_idx" ON "player_sessions"("disconnected_at");

-- AddForeignKey
ALTER TABLE "player_sessions" ADD CONSTRAINT "player_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

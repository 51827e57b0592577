-- pack: task_state
-- version: 1.0.0
-- description: When an obs row's state is updated to 2, the tasks of that obs get state 2.
-- param: obs_table | ident | "obs" | table whose state updates fire the trigger
-- param: obs_key | ident | "id" | key column of the obs table
-- param: obs_state | ident | "state" | state column of the obs table (the UPDATE OF column)
-- param: task_table | ident | "task" | table whose rows follow the obs state
-- param: task_obs_fk | ident | "obs_id" | column of the task table that refers to the obs key
-- param: task_state | ident | "state" | state column of the task table
-- param: when_state | value(obs_table.obs_state) | 2 | obs state that fires the trigger
-- param: set_state | value(task_table.task_state) | 2 | state the tasks are set to
-- param: trigger_name | ident | "update_task_state" | name of the trigger
-- param: index_name | ident | "{trigger_name}_idx" | name of the index on the task table's obs column
-- requires: obs_table | obs_key obs_state
-- requires: task_table | task_obs_fk task_state
-- object: index | index_name | task_table
-- object: trigger | trigger_name | obs_table
--
-- The seed trigger, parameterised. The index keeps one obs update from
-- scanning every task.
CREATE INDEX IF NOT EXISTS main.{{index_name}} ON {{task_table}}({{task_obs_fk}});
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} UPDATE OF {{obs_state}} ON {{obs_table}}
  BEGIN
    UPDATE {{task_table}} SET {{task_state}} = {{set_state}} WHERE ({{task_obs_fk}} = old.{{obs_key}}) and (new.{{obs_state}} = {{when_state}});
  END;
